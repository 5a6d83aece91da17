"""Tests for the keyed Line-API node table: rendering, cursor, updates, sort, filter, marks."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from knm_tui.kube.nodeview import NodeView, project_node
from knm_tui.ui.node_table import Column, NodeTable, TableRow

COLUMNS = (
    Column("name", "NAME"),
    Column("status", "STATUS"),
    Column("roles", "ROLES"),
    Column("version", "VERSION"),
    Column("zone", "ZONE"),
    Column("cpu", "CPU", justify="right"),
)


def make_node(
    name: str,
    *,
    ready: str = "True",
    cordoned: bool = False,
    memory_pressure: bool = False,
    zone: str = "zone-a",
    cpu: str | None = "4",
    role: str = "worker",
) -> NodeView:
    """A NodeView projected from a minimal Node object."""
    conditions = [{"type": "Ready", "status": ready}]
    if memory_pressure:
        conditions.append({"type": "MemoryPressure", "status": "True"})
    allocatable = {"memory": "16Gi"} if cpu is None else {"cpu": cpu, "memory": "16Gi"}
    return project_node(
        {
            "metadata": {
                "name": name,
                "labels": {f"node-role.kubernetes.io/{role}": "", "topology.kubernetes.io/zone": zone},
            },
            "spec": {"unschedulable": cordoned},
            "status": {
                "conditions": conditions,
                "nodeInfo": {"kubeletVersion": "v1.30.1"},
                "allocatable": allocatable,
            },
        }
    )


def severity_of(view: NodeView) -> str:
    """A stand-in for the product's row colouring rule."""
    if view.status != "Ready":
        return "error"
    if view.pressure_conditions:
        return "warning"
    if view.cordoned:
        return "cordoned"
    return "ok"


def node_row(view: NodeView, cluster: str = "prod", severity: str | None = None) -> TableRow:
    """Format a NodeView into a table row keyed by ``cluster/name``."""
    cpu_millis = view.allocatable.cpu_millis
    cpu_text = "" if cpu_millis is None else f"{cpu_millis / 1000:g}"
    roles = ",".join(view.roles)
    return TableRow(
        key=f"{cluster}/{view.name}",
        cells=(view.name, view.display_status, roles, view.kubelet_version, view.zone, cpu_text),
        sort_values=(view.name, view.display_status, roles, view.kubelet_version, view.zone, cpu_millis),
        severity=severity or severity_of(view),  # type: ignore[arg-type]
        data=view,
    )


def plain_row(index: int, status: str = "Ready", severity: str = "ok") -> TableRow:
    """A cheap row for large tables."""
    name = f"node-{index:05d}"
    return TableRow(
        key=f"prod/{name}",
        cells=(name, status, "worker", "v1.30.1", f"zone-{index % 3}", "4"),
        sort_values=(name, status, "worker", "v1.30.1", f"zone-{index % 3}", 4000),
        severity=severity,  # type: ignore[arg-type]
    )


class TableApp(App[None]):
    """Hosts one focused NodeTable and records the messages it posts."""

    def __init__(self, rows: list[TableRow], columns: tuple[Column, ...] = COLUMNS) -> None:
        super().__init__()
        self.initial_rows = rows
        self.columns = columns
        self.cursor_moves: list[str | None] = []
        self.activated: list[str] = []

    def compose(self) -> ComposeResult:
        yield NodeTable(self.columns, id="nodes")

    def on_mount(self) -> None:
        table = self.query_one(NodeTable)
        table.set_rows(self.initial_rows)
        table.focus()

    def on_node_table_cursor_moved(self, message: NodeTable.CursorMoved) -> None:
        self.cursor_moves.append(message.key)

    def on_node_table_row_activated(self, message: NodeTable.RowActivated) -> None:
        self.activated.append(message.key)


def run_async(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run an async test body on a fresh event loop (no async pytest plugin is installed)."""

    @functools.wraps(test)
    def wrapper() -> None:
        asyncio.run(test())

    return wrapper


def painted(table: NodeTable) -> list[str]:
    """The lines as the screen shows them (stale lines stay stale if a repaint was missed)."""
    width, height = table.outer_size
    return [strip.text.rstrip() for strip in table.render_lines(Region(0, 0, width, height))]


def highlighted_lines(table: NodeTable) -> list[int]:
    """Display lines painted with the cursor background."""
    cursor_background = table.get_component_rich_style("node-table--cursor").bgcolor
    width, height = table.outer_size
    strips = table.render_lines(Region(0, 0, width, height))
    return [y for y, strip in enumerate(strips) if list(strip)[0].style.bgcolor == cursor_background]


def named_rows(*names: str, **node_options: Any) -> list[TableRow]:
    """Rows for healthy nodes with the given names."""
    return [node_row(make_node(name, **node_options)) for name in names]


@run_async
async def test_header_rows_and_sort_indicator_render() -> None:
    rows = [node_row(make_node("node-b", ready="False")), node_row(make_node("node-a", cordoned=True))]
    app = TableApp(rows)
    async with app.run_test(size=(80, 8)) as pilot:
        table = app.query_one(NodeTable)
        lines = painted(table)
        assert lines[0].split() == ["NAME", "STATUS", "ROLES", "VERSION", "ZONE", "CPU"]
        assert lines[1].split() == ["node-a", "Ready,SchedulingDisabled", "worker", "v1.30.1", "zone-a", "4"]
        assert lines[2].split() == ["node-b", "NotReady", "worker", "v1.30.1", "zone-a", "4"]
        assert lines[3] == ""

        table.sort_by("status")
        await pilot.pause()
        lines = painted(table)
        assert "STATUS ▲" in lines[0]
        assert lines[1].split()[0] == "node-b"

        table.sort_by("status", reverse=True)
        await pilot.pause()
        lines = painted(table)
        assert "STATUS ▼" in lines[0] and "▲" not in lines[0]
        assert lines[1].split()[0] == "node-a"


@run_async
async def test_cursor_keys_move_cursor_and_post_messages() -> None:
    rows = [plain_row(index) for index in range(30)]
    keys = [row.key for row in rows]
    app = TableApp(rows)
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(NodeTable)
        await pilot.pause()
        assert table.cursor_key == keys[0]
        assert app.cursor_moves == [keys[0]]
        body_height = table.size.height - 1

        await pilot.press("down", "down")
        assert table.cursor_key == keys[2]
        assert highlighted_lines(table) == [3]
        await pilot.press("end")
        assert table.cursor_key == keys[-1]
        assert table.scroll_offset.y == table.max_scroll_y > 0
        assert painted(table)[-1].split()[0] == "node-00029"
        await pilot.press("home")
        assert table.cursor_key == keys[0]
        assert table.scroll_offset.y == 0
        await pilot.press("pagedown")
        assert table.cursor_key == keys[body_height]
        await pilot.press("pageup", "up")
        assert table.cursor_key == keys[0]
        await pilot.press("enter")
        await pilot.pause()

        assert app.cursor_moves == [keys[0], keys[1], keys[2], keys[-1], keys[0], keys[body_height], keys[0]]
        assert app.activated == [keys[0]]


@run_async
async def test_click_selects_row_and_header_click_toggles_sort() -> None:
    app = TableApp(named_rows("node-a", "node-b", "node-c"))
    async with app.run_test(size=(80, 8)) as pilot:
        table = app.query_one(NodeTable)
        await pilot.click(NodeTable, offset=(4, 3))
        await pilot.pause()
        assert table.cursor_key == "prod/node-c"
        assert app.cursor_moves[-1] == "prod/node-c"

        await pilot.click(NodeTable, offset=(3, 0))
        assert (table.sort_column, table.sort_reverse) == ("name", False)
        await pilot.click(NodeTable, offset=(3, 0))
        assert (table.sort_column, table.sort_reverse) == ("name", True)
        assert list(table.visible_keys) == ["prod/node-c", "prod/node-b", "prod/node-a"]
        assert table.cursor_key == "prod/node-c"


@run_async
async def test_5000_rows_and_500_upserts_keep_cursor_and_scroll() -> None:
    rows = [plain_row(index) for index in range(5000)]
    app = TableApp(rows)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(NodeTable)
        assert table.row_count == 5000
        assert table.move_cursor("prod/node-02500")
        await pilot.pause()
        scroll_before = table.scroll_offset.y
        assert scroll_before > 0
        moves_before = list(app.cursor_moves)

        table.upsert_rows([plain_row(index, "NotReady", "error") for index in range(2400, 2900)])
        await pilot.pause()

        assert table.cursor_key == "prod/node-02500"
        assert table.scroll_offset.y == scroll_before
        assert app.cursor_moves == moves_before
        assert table.row_count == 5000
        assert table.get_row("prod/node-02400").cells[1] == "NotReady"
        assert table.get_row("prod/node-02399").cells[1] == "Ready"
        body = painted(table)[1:]
        assert all(line.split()[1] == "NotReady" for line in body), body
        cursor_line = body[table.cursor_index - scroll_before]
        assert cursor_line.split()[:2] == ["node-02500", "NotReady"]

        table.scroll_to(y=0, animate=False)
        table.upsert_rows([plain_row(5000)])
        await pilot.pause()
        assert table.scroll_offset.y == 0
        assert table.cursor_key == "prod/node-02500"
        assert table.row_count == 5001


@run_async
async def test_upsert_that_moves_a_row_in_the_sort_keeps_the_cursor_on_its_key() -> None:
    app = TableApp(named_rows("node-a", "node-b", "node-c", "node-d"))
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(NodeTable)
        table.sort_by("status")
        table.move_cursor("prod/node-c")
        await pilot.pause()
        moves_before = list(app.cursor_moves)

        table.upsert_rows([node_row(make_node("node-c", ready="Unknown"))])
        await pilot.pause()

        assert list(table.visible_keys) == ["prod/node-c", "prod/node-a", "prod/node-b", "prod/node-d"]
        assert table.cursor_key == "prod/node-c"
        assert app.cursor_moves == moves_before
        assert painted(table)[1].split()[:2] == ["node-c", "NotReady"]

        table.upsert_rows([node_row(make_node("node-0-new"))])
        await pilot.pause()
        assert list(table.visible_keys) == [
            "prod/node-c",
            "prod/node-0-new",
            "prod/node-a",
            "prod/node-b",
            "prod/node-d",
        ]
        assert table.cursor_key == "prod/node-c"


@run_async
async def test_sort_is_stable_by_key_and_reverse_is_the_exact_reverse() -> None:
    rows = [
        node_row(make_node("node-d", zone="zone-b")),
        node_row(make_node("node-a", zone="zone-b", cpu=None)),
        node_row(make_node("node-c", zone="zone-a", cpu="2")),
        node_row(make_node("node-b", zone="zone-a", cpu="8")),
    ]
    app = TableApp(rows)
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(NodeTable)
        table.sort_by("zone")
        ascending = ["prod/node-b", "prod/node-c", "prod/node-a", "prod/node-d"]
        assert list(table.visible_keys) == ascending
        table.toggle_sort("zone")
        assert table.sort_reverse is True
        assert list(table.visible_keys) == ascending[::-1]
        table.toggle_sort("zone")
        assert table.sort_reverse is False
        assert list(table.visible_keys) == ascending

        table.sort_by("cpu")
        assert list(table.visible_keys) == ["prod/node-c", "prod/node-d", "prod/node-b", "prod/node-a"]
        table.sort_by(None)
        assert list(table.visible_keys) == ["prod/node-a", "prod/node-b", "prod/node-c", "prod/node-d"]
        await pilot.pause()
        assert "▲" not in painted(table)[0]


@run_async
async def test_filter_hides_rows_and_cursor_stays_or_moves_to_a_neighbour() -> None:
    rows = [
        node_row(make_node("node-a", zone="zone-a")),
        node_row(make_node("node-b", zone="zone-b")),
        node_row(make_node("node-c", zone="zone-a")),
        node_row(make_node("node-d", zone="zone-b")),
    ]
    app = TableApp(rows)
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(NodeTable)
        table.move_cursor("prod/node-c")

        table.set_filter(lambda row: row.data.zone == "zone-a")
        await pilot.pause()
        assert list(table.visible_keys) == ["prod/node-a", "prod/node-c"]
        assert table.cursor_key == "prod/node-c"
        assert table.total_row_count == 4
        assert [line.split()[0] for line in painted(table)[1:] if line] == ["node-a", "node-c"]
        assert not table.move_cursor("prod/node-b")
        assert not table.is_visible("prod/node-b") and table.is_visible("prod/node-a")

        table.set_filter(lambda row: row.data.name != "node-c")
        assert table.cursor_key == "prod/node-d"

        table.upsert_rows([node_row(make_node("node-d", zone="zone-b", ready="False"), severity="error")])
        table.set_filter(lambda row: row.data.status == "Ready")
        assert list(table.visible_keys) == ["prod/node-a", "prod/node-b", "prod/node-c"]
        assert table.cursor_key == "prod/node-c"

        table.upsert_rows([node_row(make_node("node-a", ready="Unknown"))])
        assert list(table.visible_keys) == ["prod/node-b", "prod/node-c"]

        table.set_filter(None)
        await pilot.pause()
        assert table.row_count == 4
        assert table.cursor_key == "prod/node-c"
        assert app.cursor_moves[-2:] == ["prod/node-d", "prod/node-c"]


@run_async
async def test_removing_the_cursor_row_moves_the_cursor_to_its_neighbour() -> None:
    app = TableApp(named_rows("node-a", "node-b", "node-c", "node-d"))
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(NodeTable)
        table.move_cursor("prod/node-b")
        table.remove_rows(["prod/node-b", "prod/unknown"])
        assert table.cursor_key == "prod/node-c"
        table.move_cursor("prod/node-d")
        table.remove_rows(["prod/node-d"])
        assert table.cursor_key == "prod/node-c"
        table.sort_by("name", reverse=True)
        table.upsert_rows(named_rows("node-e", "node-f"))
        table.move_cursor("prod/node-e")
        table.remove_rows(["prod/node-e"])
        assert table.cursor_key == "prod/node-c"
        table.remove_rows(["prod/node-a", "prod/node-c", "prod/node-f"])
        assert table.cursor_key is None
        await pilot.pause()
        assert app.cursor_moves[-5:] == ["prod/node-d", "prod/node-c", "prod/node-e", "prod/node-c", None]
        assert painted(table)[1:] == [""] * (table.size.height - 1)


@run_async
async def test_marked_rows_show_a_marker_glyph() -> None:
    app = TableApp(named_rows("node-a", "node-b", "node-c"))
    async with app.run_test(size=(80, 8)) as pilot:
        table = app.query_one(NodeTable)
        assert table.toggle_mark("prod/node-b") is True
        await pilot.pause()
        lines = painted(table)
        assert lines[2].startswith("● node-b")
        assert not lines[1].startswith("●") and not lines[3].startswith("●")
        assert table.marked_keys == {"prod/node-b"}

        assert table.toggle_mark("prod/node-b") is False
        await pilot.pause()
        assert painted(table)[2].startswith("  node-b")

        table.toggle_mark("prod/node-a")
        table.toggle_mark("prod/node-c")
        table.set_rows(named_rows("node-a", "node-b"))
        assert table.marked_keys == {"prod/node-a"}
        await pilot.pause()
        assert painted(table)[1].startswith("● node-a")
        table.clear_marks()
        await pilot.pause()
        assert table.marked_keys == frozenset()
        assert not painted(table)[1].startswith("●")
        with pytest.raises(KeyError):
            table.toggle_mark("prod/node-c")


@run_async
async def test_severity_colours_follow_the_theme() -> None:
    rows = [node_row(make_node("node-a")), node_row(make_node("node-b", ready="False"))]
    app = TableApp(rows)
    async with app.run_test(size=(80, 8)) as pilot:
        app.theme = "textual-dark"
        await pilot.pause()
        table = app.query_one(NodeTable)
        ok_dark = table.render_line(1)
        error_dark = table.render_line(2)
        assert error_dark.text.split()[0] == "node-b"
        error_colour_dark = list(error_dark)[-1].style.color
        assert error_colour_dark != list(ok_dark)[-1].style.color

        app.theme = "textual-light"
        await pilot.pause()
        assert list(table.render_line(2))[-1].style.color != error_colour_dark


@run_async
async def test_auto_columns_widen_for_longer_values_and_fixed_columns_truncate() -> None:
    columns = (Column("name", "NAME"), Column("status", "STATUS", width=6))
    app = TableApp([TableRow("k1", ("a", "Ready"))], columns=columns)
    async with app.run_test(size=(60, 6)) as pilot:
        table = app.query_one(NodeTable)
        assert table.column_widths == (len("NAME") + 2, 6)

        table.upsert_rows([TableRow("k2", ("a-much-longer-node-name", "NotReady"))])
        await pilot.pause()
        assert table.column_widths == (len("a-much-longer-node-name"), 6)
        lines = painted(table)
        assert lines[2] == "  a-much-longer-node-name  NotRe…"
        assert lines[1] == "  a                        Ready"

        table.upsert_rows([TableRow("k2", ("short", "Ready"))])
        assert table.column_widths == (len("a-much-longer-node-name"), 6)


@run_async
async def test_horizontal_scroll_keeps_header_and_body_aligned() -> None:
    app = TableApp(named_rows("node-a", "node-b"))
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(NodeTable)
        table.scroll_to(x=20, animate=False)
        await pilot.pause()
        assert table.scroll_offset.x == 20
        header, first_row = painted(table)[:2]
        assert "NAME" not in header
        assert header.index("VERSION") == first_row.index("v1.30.1")
        assert header.index("ZONE") == first_row.index("zone-a")


@run_async
async def test_set_columns_replaces_the_header_and_keeps_a_surviving_sort() -> None:
    app = TableApp([TableRow("prod/a", ("a", "Ready")), TableRow("edge/b", ("b", "NotReady"))],
                   columns=(Column("name", "NAME"), Column("status", "STATUS")))
    async with app.run_test(size=(60, 6)) as pilot:
        table = app.query_one(NodeTable)
        table.sort_by("status")
        table.set_columns((Column("cluster", "CLUSTER"), Column("name", "NAME"), Column("status", "STATUS")))
        table.set_rows([TableRow("prod/a", ("prod", "a", "Ready")), TableRow("edge/b", ("edge", "b", "NotReady"))])
        await pilot.pause()
        assert table.sort_column == "status"
        lines = painted(table)
        assert lines[0].split() == ["CLUSTER", "NAME", "STATUS", "▲"]
        assert lines[1].split() == ["edge", "b", "NotReady"]

        table.set_columns((Column("cluster", "CLUSTER"), Column("name", "NAME")))
        assert table.sort_column is None
        assert list(table.visible_keys) == ["edge/b", "prod/a"]


def test_table_row_rejects_an_unknown_severity() -> None:
    with pytest.raises(ValueError):
        TableRow("k", ("a",), severity="fatal")  # type: ignore[arg-type]


class SnapshotApp(TableApp):
    """A small fixed table with every severity, a marked row, a sort and the cursor."""

    def __init__(self) -> None:
        rows = [
            node_row(make_node("cp-1", role="control-plane", zone="zone-a")),
            node_row(make_node("worker-1", zone="zone-a")),
            node_row(make_node("worker-2", ready="False", zone="zone-b")),
            node_row(make_node("worker-3", memory_pressure=True, zone="zone-b", cpu="8")),
            node_row(make_node("worker-4", cordoned=True, zone="zone-c", cpu="16")),
            node_row(make_node("worker-5", ready="Unknown", zone="zone-c"), cluster="edge"),
            node_row(make_node("worker-6", zone="zone-c", cpu="500m"), severity="muted"),
        ]
        super().__init__(rows)


async def arrange_snapshot(pilot: Pilot[None]) -> None:
    """Sort by name, mark a cordoned node and put the cursor on a healthy one."""
    table = pilot.app.query_one(NodeTable)
    table.sort_by("name")
    table.toggle_mark("prod/worker-4")
    table.move_cursor("prod/worker-1")
    await pilot.pause()


def test_snapshot_severities_cursor_and_marks(snap_compare: Any) -> None:
    assert snap_compare(SnapshotApp(), terminal_size=(120, 20), run_before=arrange_snapshot)


# ---------------------------------------------------------------------------------------------
# Deferred rows: a big table shows its first screen after formatting only that screen


def deferred_plain_row(index: int, formatted: list[int]) -> TableRow:
    """``plain_row(index)`` formatted on first need; ``formatted`` records which were."""
    eager = plain_row(index)

    def fill(_: Any) -> Any:
        formatted.append(index)
        return eager.cells, eager.sort_values, eager.severity

    return TableRow.deferred(eager.key, None, fill, {0: eager.sort_values[0]})


def test_a_deferred_row_formats_once_and_only_when_needed() -> None:
    formatted: list[int] = []
    row = deferred_plain_row(7, formatted)
    assert not row.formatted
    assert row.sort_value(0) == "node-00007"  # known up front
    assert formatted == []
    assert row.sort_value(5) == 4000  # not known: formats
    assert formatted == [7] and row.formatted
    assert row.cells == plain_row(7).cells and row == plain_row(7)
    assert formatted == [7]
    with pytest.raises(ValueError):
        TableRow.deferred("k", None, lambda _: (("a",), (), "fatal")).severity


@run_async
async def test_5000_deferred_rows_show_the_first_screen_then_format_the_rest() -> None:
    formatted: list[int] = []
    longest = plain_row(4321)
    long_cells = ("node-04321-with-a-much-longer-name", *longest.cells[1:])

    def long_fill(_: Any) -> Any:
        formatted.append(4321)
        return long_cells, (long_cells[0], *longest.sort_values[1:]), "ok"

    rows = [deferred_plain_row(index, formatted) for index in range(5000)]
    rows[4321] = TableRow.deferred(longest.key, None, long_fill, {0: "node-04321"})
    app = TableApp([])
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(NodeTable)
        table.sort_by("name")
        table.set_rows(rows)
        assert 0 < len(formatted) < 500  # the rows near the screen only
        assert all(index < 500 for index in formatted)
        first_screen = painted(table)
        assert first_screen[1].split()[0] == "node-00000"
        await pilot.pause()
        await pilot.pause()
        assert sorted(formatted) == list(range(5000))  # the rest, once the first frame is out
        eager = NodeTable(COLUMNS)
        eager.set_rows([plain_row(index) for index in range(5000) if index != 4321]
                       + [TableRow(longest.key, long_cells, (long_cells[0], *longest.sort_values[1:]))])
        assert table.column_widths == eager.column_widths  # sized from every row, as if eager
        assert table.column_widths[0] == len(long_cells[0])
        table.sort_by("cpu")  # every row formatted already: nothing formats twice
        assert len(formatted) == 5000
