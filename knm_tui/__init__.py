"""knm-tui: a terminal dashboard for Kubernetes nodes across every kubeconfig context."""

__version__ = "0.1.0"
