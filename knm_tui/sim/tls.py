"""Throwaway TLS material for the simulator's ``--tls`` mode.

A fresh self-signed certificate for 127.0.0.1/localhost is made per run with the ``openssl``
command, written to a private directory, and trusted by the kubeconfig the simulator writes.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass


class TLSSetupError(RuntimeError):
    """The certificate could not be made (for example, no ``openssl`` on the PATH)."""


@dataclass(frozen=True)
class TLSMaterial:
    """Paths of a certificate and key, and the certificate in PEM for kubeconfigs."""

    directory: str
    cert_path: str
    key_path: str
    cert_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        """An SSL context serving this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def remove(self) -> None:
        """Delete the files."""
        shutil.rmtree(self.directory, ignore_errors=True)


def make_tls_material() -> TLSMaterial:
    """Create a self-signed certificate valid for 127.0.0.1 and localhost for two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSSetupError("--tls needs the openssl command, which is not on the PATH")
    directory = tempfile.mkdtemp(prefix="knm-sim-tls-")
    os.chmod(directory, 0o700)
    cert_path = os.path.join(directory, "server.crt")
    key_path = os.path.join(directory, "server.key")
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", key_path, "-out", cert_path, "-days", "2", "-subj", "/CN=knm-sim",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext", "extendedKeyUsage=serverAuth",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        last_line = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise TLSSetupError(f"openssl could not create a certificate: {last_line}")
    os.chmod(key_path, 0o600)
    with open(cert_path, "rb") as handle:
        cert_pem = handle.read()
    return TLSMaterial(directory, cert_path, key_path, cert_pem)
