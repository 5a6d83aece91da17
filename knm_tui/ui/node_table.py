"""A fast keyed table for the node list, built on Textual's Line API.

Textual's ``DataTable`` re-renders every cached cell on any update; this table instead keeps rows in
a dict keyed by a string, renders only the lines on screen, caches each rendered line by its content,
and repaints only the lines whose content changed. Formatting stays outside the widget: the caller
hands over rows of already-formatted cell strings (see :class:`TableRow`), or rows that format
themselves on first need (:meth:`TableRow.deferred`): ``set_rows`` then formats the rows near the
screen, and the rest (sizing the columns from all of them) once that frame is out.

Usage::

    table = NodeTable([Column("name", "NAME"), Column("cpu", "CPU", justify="right")])
    table.set_rows([TableRow("prod/node-a", ("node-a", "4"), sort_values=("node-a", 4000))])
    table.upsert_rows([...])          # in place: cursor key and scroll position stay put
    table.sort_by("cpu", reverse=True)
    table.set_filter(lambda row: row.severity != "ok")

Layout: line 0 is the header, kept fixed while the body scrolls vertically; both are cropped by the
same horizontal scroll offset so they stay aligned. The first two cells of every line hold the mark
glyph of multi-selected rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, Callable, ClassVar, Iterable, Literal, Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Severity = Literal["ok", "warning", "error", "cordoned", "muted"]
SEVERITIES: frozenset[str] = frozenset({"ok", "warning", "error", "cordoned", "muted"})
Justify = Literal["left", "right", "center"]

MARK_GLYPH = "●"
MARKER_WIDTH = 2  # the glyph and one space
COLUMN_GAP = 2
SORT_ASCENDING_GLYPH = "▲"
SORT_DESCENDING_GLYPH = "▼"
SORT_INDICATOR_WIDTH = 2  # a space and the glyph, reserved in auto-width columns
STRIP_CACHE_SIZE = 2048


@dataclass(frozen=True, slots=True)
class Column:
    """One column: ``width`` fixes the content width; ``None`` sizes it to the widest value seen.

    An auto-width column starts as wide as its label plus room for the sort indicator (and at least
    ``min_width``) and widens, up to ``max_width``, when a longer value arrives. It never shrinks
    except on ``set_rows``/``set_columns``, which size it afresh from the rows they are given.
    """

    key: str
    label: str
    width: int | None = None
    min_width: int = 0
    max_width: int | None = None
    justify: Justify = "left"


RowParts = tuple[tuple[str, ...], tuple[Any, ...], Severity]
"""What formatting a row produces: its cells, its sort values and its severity."""


class TableRow:
    """One row: formatted ``cells`` (one per column), how it sorts, and how it is coloured.

    ``sort_values`` holds one comparable value per column (``None`` sorts last when ascending);
    empty means "sort by the cell text". ``severity`` picks the row's colour class. ``data`` carries
    the caller's object (e.g. the NodeView) for filter predicates; it is never rendered and is left
    out of equality, so a row whose cells did not change is not repainted. Rows are values: treat
    them as immutable.

    A row made with :meth:`deferred` is formatted the first time its cells, severity or a sort
    value it was not given up front is needed, so a table of thousands of rows can show its first
    screen after formatting only that screen.
    """

    __slots__ = ("key", "data", "_cells", "_sort_values", "_severity", "_fill", "_known_sort_values")

    def __init__(self, key: str, cells: tuple[str, ...] = (), sort_values: tuple[Any, ...] = (),
                 severity: Severity = "ok", data: Any = None) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; expected one of {sorted(SEVERITIES)}")
        self.key = key
        self.data = data
        self._cells = cells
        self._sort_values = sort_values
        self._severity: Severity = severity
        self._fill: Callable[[Any], RowParts] | None = None
        self._known_sort_values: dict[int, Any] | None = None

    @classmethod
    def deferred(cls, key: str, data: Any, fill: Callable[[Any], RowParts],
                 known_sort_values: dict[int, Any] | None = None) -> TableRow:
        """A row formatted on first need by ``fill(data)``; ``known_sort_values`` maps column
        indexes to sort values that are cheap to know now (e.g. the name), so sorting by those
        columns formats nothing."""
        row = cls.__new__(cls)
        row.key = key
        row.data = data
        row._cells = ()
        row._sort_values = ()
        row._severity = "ok"
        row._fill = fill
        row._known_sort_values = known_sort_values or {}
        return row

    @property
    def formatted(self) -> bool:
        """Whether the cells exist yet (always true for a row not made with :meth:`deferred`)."""
        return self._fill is None

    def _format(self) -> None:
        """Fill a deferred row in (callers check that it is still deferred)."""
        assert self._fill is not None
        cells, sort_values, severity = self._fill(self.data)
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; expected one of {sorted(SEVERITIES)}")
        self._cells, self._sort_values, self._severity = cells, sort_values, severity
        self._fill = self._known_sort_values = None

    @property
    def cells(self) -> tuple[str, ...]:
        """The cell texts, one per column."""
        if self._fill is not None:
            self._format()
        return self._cells

    @property
    def sort_values(self) -> tuple[Any, ...]:
        """One sort value per column, or empty (sort by the cell text)."""
        if self._fill is not None:
            self._format()
        return self._sort_values

    @property
    def severity(self) -> Severity:
        """The row's colour class."""
        if self._fill is not None:
            self._format()
        return self._severity

    def sort_value(self, column_index: int) -> Any:
        """How the row sorts by one column, formatting it only when that value is not known."""
        known = self._known_sort_values
        if known is not None and column_index in known:
            return known[column_index]
        values = self.sort_values or self._cells
        return values[column_index] if column_index < len(values) else None

    def _compared(self) -> tuple[Any, ...]:
        return (self.key, self.cells, self.sort_values, self.severity)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableRow):
            return NotImplemented
        return self is other or self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        if self._fill is not None:
            return f"TableRow(key={self.key!r}, deferred)"
        return (f"TableRow(key={self.key!r}, cells={self._cells!r}, sort_values={self._sort_values!r}, "
                f"severity={self._severity!r})")


RowPredicate = Callable[[TableRow], bool]


def cell_width(text: str) -> int:
    """Terminal cells taken by ``text`` (fast path for ASCII)."""
    return len(text) if text.isascii() else cell_len(text)


def fit_cell(text: str, width: int, justify: Justify = "left") -> str:
    """Pad or truncate ``text`` (with an ellipsis) to exactly ``width`` cells."""
    length = cell_width(text)
    if length > width:
        if width <= 0:
            return ""
        head = text[: width - 1] if text.isascii() else set_cell_size(text, width - 1)
        return head + "…"
    padding = width - length
    if not padding:
        return text
    if justify == "right":
        return " " * padding + text
    if justify == "center":
        left = padding // 2
        return " " * left + text + " " * (padding - left)
    return text + " " * padding


class NodeTable(ScrollView, can_focus=True):
    """A keyed, sortable, filterable table that repaints only what changed.

    Rows are :class:`TableRow` objects keyed by ``TableRow.key`` (e.g. ``"cluster/name"``). The
    cursor follows a key, not a position: updates, sorting and filtering keep it on the same row
    while that row is shown; when its row goes away it moves to the nearest remaining neighbour.
    Order is ascending by (sort value, row key); ``reverse`` shows exactly the reverse order.

    Messages: :class:`NodeTable.CursorMoved` whenever the cursor key changes (``None`` when the
    table shows no rows) and :class:`NodeTable.RowActivated` on enter.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Previous node", show=False),
        Binding("down", "cursor_down", "Next node", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "cursor_first", "First node", show=False),
        Binding("end", "cursor_last", "Last node", show=False),
        Binding("enter", "activate", "Open node", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "node-table--header",
        "node-table--cursor",
        "node-table--marker",
        "node-table--ok",
        "node-table--warning",
        "node-table--error",
        "node-table--cordoned",
        "node-table--muted",
    }

    DEFAULT_CSS = """
    NodeTable {
        height: 1fr;
        background: $surface;
        color: $foreground;

        & > .node-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .node-table--ok {
            color: $foreground;
        }
        & > .node-table--warning {
            color: $text-warning;
        }
        & > .node-table--error {
            color: $text-error;
            text-style: bold;
        }
        & > .node-table--cordoned {
            color: $text-primary;
            text-style: italic;
        }
        & > .node-table--muted {
            color: $text-muted;
        }
        & > .node-table--marker {
            color: $text-accent;
            text-style: bold;
        }
        & > .node-table--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .node-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class CursorMoved(Message):
        """The cursor moved to another row (``key`` is ``None`` when no row is shown)."""

        def __init__(self, node_table: NodeTable, key: str | None) -> None:
            self.node_table = node_table
            self.key = key
            super().__init__()

        @property
        def control(self) -> NodeTable:
            """The table that posted the message."""
            return self.node_table

    class RowActivated(Message):
        """Enter was pressed on the row with ``key``."""

        def __init__(self, node_table: NodeTable, key: str) -> None:
            self.node_table = node_table
            self.key = key
            super().__init__()

        @property
        def control(self) -> NodeTable:
            """The table that posted the message."""
            return self.node_table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._columns: tuple[Column, ...] = ()
        self._widths: list[int] = []
        self._rows: dict[str, TableRow] = {}
        self._order: list[str] = []  # every key, ascending by the current sort
        self._visible: list[str] = []  # keys shown, in display order
        self._index: dict[str, int] = {}  # shown key → display index
        self._hidden: set[str] = set()  # keys the filter rejects
        self._marked: set[str] = set()
        self._filter: RowPredicate | None = None
        self._sort_index: int | None = None
        self._sort_reverse = False
        self._cursor_key: str | None = None
        self._strip_cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(STRIP_CACHE_SIZE)
        self._install_columns(columns)

    # ----------------------------------------------------------------- read-only state

    @property
    def columns(self) -> tuple[Column, ...]:
        """The column definitions."""
        return self._columns

    @property
    def column_widths(self) -> tuple[int, ...]:
        """The current content width of each column, in cells."""
        return tuple(self._widths)

    @property
    def cursor_key(self) -> str | None:
        """Key of the row under the cursor, or ``None`` when no row is shown."""
        return self._cursor_key

    @property
    def cursor_index(self) -> int | None:
        """Display index of the cursor row, or ``None``."""
        return self._index.get(self._cursor_key) if self._cursor_key is not None else None

    @property
    def visible_keys(self) -> Sequence[str]:
        """Keys of the shown rows in display order (do not mutate)."""
        return self._visible

    @property
    def row_count(self) -> int:
        """Number of rows shown (after the filter)."""
        return len(self._visible)

    @property
    def total_row_count(self) -> int:
        """Number of rows held, shown or not."""
        return len(self._rows)

    @property
    def marked_keys(self) -> frozenset[str]:
        """Keys of the multi-selected rows."""
        return frozenset(self._marked)

    @property
    def sort_column(self) -> str | None:
        """Key of the sort column, or ``None`` when rows are ordered by key."""
        return self._columns[self._sort_index].key if self._sort_index is not None else None

    @property
    def sort_reverse(self) -> bool:
        """Whether the order is descending."""
        return self._sort_reverse

    def get_row(self, key: str) -> TableRow | None:
        """The row held under ``key`` (shown or filtered out), or ``None``."""
        return self._rows.get(key)

    def is_visible(self, key: str) -> bool:
        """Whether the row with ``key`` is shown."""
        return key in self._index

    # ----------------------------------------------------------------- data operations

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the column definitions; widths are sized afresh from the rows held."""
        sort_key = self.sort_column
        self._install_columns(columns)
        keys = [column.key for column in self._columns]
        self._sort_index = keys.index(sort_key) if sort_key in keys else None
        self._measure_all(self._rows.values())
        self._rebuild(resort=True)

    def set_rows(self, rows: Iterable[TableRow], *, sort: tuple[str | None, bool] | None = None) -> None:
        """Replace every row; the cursor stays on its key if that key is still shown.

        ``sort`` (column key, reverse) changes the order as :meth:`sort_by` would, without first
        sorting the rows being replaced.
        """
        if sort is not None:
            column_key, self._sort_reverse = sort
            self._sort_index = None if column_key is None else self._column_index(column_key)
        new_rows = {row.key: row for row in rows}
        previous_order = self._order
        self._rows = new_rows
        self._order = list(new_rows)
        self._marked = {key for key in self._marked if key in new_rows}
        self._hidden = (
            {key for key, row in new_rows.items() if not self._filter(row)} if self._filter else set()
        )
        if all(row.formatted for row in new_rows.values()):
            self._measure_all(new_rows.values())
            self._rebuild(resort=True, previous_order=previous_order)
            return
        # Deferred rows: size the columns from the rows around the screen, show them, and
        # format (and measure) the rest once that frame is out.
        self._rebuild(resort=True, previous_order=previous_order)
        self._measure_all([new_rows[key] for key in self._keys_near_screen()])
        self._update_virtual_size()
        self.call_after_refresh(self._format_remaining_rows)

    def upsert_rows(self, rows: Iterable[TableRow]) -> None:
        """Add or update rows in place, repainting only changed lines that are on screen.

        The cursor stays on the same key and the scroll position is kept (unless the cursor row
        would leave the screen because it moved in the sort order; then the view follows it).
        """
        filter_predicate = self._filter
        sort_index = self._sort_index
        needs_resort = False
        needs_rebuild = False
        widened = False
        repaint_keys: list[str] = []
        for row in rows:
            key = row.key
            old = self._rows.get(key)
            self._rows[key] = row
            if filter_predicate is not None:
                hidden = not filter_predicate(row)
                if hidden != (key in self._hidden):
                    needs_rebuild = True
                    if hidden:
                        self._hidden.add(key)
                    else:
                        self._hidden.discard(key)
            if old is None:
                self._order.append(key)
                needs_resort = True
                widened |= self._widen_for(row.cells)
                continue
            if sort_index is not None and old.sort_value(sort_index) != row.sort_value(sort_index):
                needs_resort = True
            if old.cells != row.cells or old.severity != row.severity:
                widened |= self._widen_for(row.cells)
                repaint_keys.append(key)
        if widened:
            self._strip_cache.clear()
        if needs_resort or needs_rebuild:
            self._rebuild(resort=needs_resort)
        elif widened:
            self._update_virtual_size()
            self.refresh()
        elif repaint_keys:
            top = self.scroll_offset.y
            bottom = top + self._body_height()
            for key in repaint_keys:
                index = self._index.get(key)
                if index is not None and top <= index < bottom:
                    self.refresh_line(index + 1)

    def remove_rows(self, keys: Iterable[str]) -> None:
        """Remove rows by key (unknown keys are ignored); a removed cursor row passes the cursor
        to the next shown row, or the previous one at the end."""
        removed = {key for key in keys if key in self._rows}
        if not removed:
            return
        for key in removed:
            del self._rows[key]
        self._hidden -= removed
        self._marked -= removed
        previous_order = self._order
        self._order = [key for key in previous_order if key not in removed]
        self._rebuild(resort=False, previous_order=previous_order)

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        """Sort by a column's sort values (row key breaks ties); ``None`` orders by key alone."""
        if column_key is None:
            self._sort_index = None
        else:
            self._sort_index = self._column_index(column_key)
        self._sort_reverse = reverse
        self._rebuild(resort=True, follow_cursor=True)

    def toggle_sort(self, column_key: str) -> None:
        """Sort by a column ascending, or flip the direction if it is already the sort column."""
        reverse = not self._sort_reverse if self.sort_column == column_key else False
        self.sort_by(column_key, reverse=reverse)

    def set_filter(self, predicate: RowPredicate | None) -> None:
        """Show only rows for which ``predicate(row)`` is true (``None`` shows every row)."""
        self._filter = predicate
        self._hidden = (
            {key for key, row in self._rows.items() if not predicate(row)} if predicate else set()
        )
        self._rebuild(resort=False, follow_cursor=True)

    def move_cursor(self, key: str) -> bool:
        """Put the cursor on the row with ``key`` and scroll it into view; False if not shown."""
        if key not in self._index:
            return False
        self._set_cursor(key)
        return True

    def toggle_mark(self, key: str) -> bool:
        """Mark or unmark a row for multi-selection; returns whether it is now marked.

        Raises ``KeyError`` when no row has ``key``.
        """
        if key not in self._rows:
            raise KeyError(key)
        if key in self._marked:
            self._marked.discard(key)
        else:
            self._marked.add(key)
        index = self._index.get(key)
        if index is not None:
            self._refresh_row(index)
        return key in self._marked

    def clear_marks(self) -> None:
        """Unmark every row."""
        if self._marked:
            self._marked.clear()
            self.refresh()

    # ----------------------------------------------------------------- actions and events

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self._move_cursor_by(-1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self._move_cursor_by(1)

    def action_page_up(self) -> None:
        """Move the cursor one page up."""
        self._move_cursor_by(-self._body_height())

    def action_page_down(self) -> None:
        """Move the cursor one page down."""
        self._move_cursor_by(self._body_height())

    def action_cursor_first(self) -> None:
        """Move the cursor to the first row."""
        if self._visible:
            self._set_cursor(self._visible[0])

    def action_cursor_last(self) -> None:
        """Move the cursor to the last row."""
        if self._visible:
            self._set_cursor(self._visible[-1])

    def action_activate(self) -> None:
        """Post RowActivated for the cursor row."""
        if self._cursor_key is not None:
            self.post_message(self.RowActivated(self, self._cursor_key))

    def on_click(self, event: events.Click) -> None:
        """A click on the header sorts by that column; a click on a row moves the cursor there."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column_key = self._column_at(offset.x + self.scroll_offset.x)
            if column_key is not None:
                self.toggle_sort(column_key)
            return
        index = self.scroll_offset.y + offset.y - 1
        if 0 <= index < len(self._visible):
            self._set_cursor(self._visible[index])

    def on_resize(self, event: events.Resize) -> None:
        """Keep the cursor row on screen when the table changes size."""
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        """Drop rendered lines when styles (e.g. the theme) change."""
        super().notify_style_update()
        self._strip_cache.clear()

    # ----------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        """Render display line ``y``: the header at 0, then body rows from the scroll offset."""
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            return self._render_header(scroll_x, width)
        index = scroll_y + y - 1
        if index >= len(self._visible):
            return Strip.blank(width, self.rich_style)
        key = self._visible[index]
        row = self._rows[key]
        is_cursor = key == self._cursor_key
        is_marked = key in self._marked
        cache_key = (row.cells, row.severity, is_cursor, is_marked, scroll_x, width, self.has_focus)
        strip = self._strip_cache.get(cache_key)
        if strip is None:
            strip = self._render_row(row, is_cursor, is_marked, scroll_x, width)
            self._strip_cache[cache_key] = strip
        return strip

    def _render_row(self, row: TableRow, is_cursor: bool, is_marked: bool, scroll_x: int, width: int) -> Strip:
        severity_class = f"node-table--{row.severity}"
        names = (severity_class, "node-table--cursor") if is_cursor else (severity_class,)
        row_style = self.get_component_rich_style(*names)
        if is_marked:
            marker_style = self.get_component_rich_style(*names, "node-table--marker")
            marker = Segment(MARK_GLYPH.ljust(MARKER_WIDTH), marker_style)
        else:
            marker = Segment(" " * MARKER_WIDTH, row_style)
        cells = row.cells
        gap = " " * COLUMN_GAP
        text = gap.join(
            fit_cell(cells[index] if index < len(cells) else "", column_width, column.justify)
            for index, (column, column_width) in enumerate(zip(self._columns, self._widths))
        )
        line = Strip([marker, Segment(text, row_style)], self._total_width())
        return line.crop_extend(scroll_x, scroll_x + width, row_style)

    def _render_header(self, scroll_x: int, width: int) -> Strip:
        style = self.get_component_rich_style("node-table--header")
        labels = []
        for index, (column, column_width) in enumerate(zip(self._columns, self._widths)):
            label = column.label
            if index == self._sort_index:
                glyph = SORT_DESCENDING_GLYPH if self._sort_reverse else SORT_ASCENDING_GLYPH
                label_room = column_width - SORT_INDICATOR_WIDTH
                if cell_width(label) > label_room:
                    label = fit_cell(label, label_room)
                label = f"{label} {glyph}"
            labels.append(fit_cell(label, column_width, column.justify))
        text = " " * MARKER_WIDTH + (" " * COLUMN_GAP).join(labels)
        return Strip([Segment(text, style)], self._total_width()).crop_extend(scroll_x, scroll_x + width, style)

    # ----------------------------------------------------------------- internals

    def _install_columns(self, columns: Sequence[Column]) -> None:
        self._columns = tuple(columns)
        keys = [column.key for column in self._columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate column keys in {keys}")
        self._widths = [self._base_width(column) for column in self._columns]
        self._auto_columns = tuple(index for index, column in enumerate(self._columns) if column.width is None)
        self._strip_cache.clear()

    @staticmethod
    def _base_width(column: Column) -> int:
        if column.width is not None:
            return column.width
        width = max(cell_width(column.label) + SORT_INDICATOR_WIDTH, column.min_width)
        return min(width, column.max_width) if column.max_width is not None else width

    def _keys_near_screen(self) -> list[str]:
        """The shown keys on screen, a screenful either side, and the cursor's screenful."""
        height = max(self._body_height(), 50)
        top = int(self.scroll_offset.y)
        windows = [(max(0, top - height), top + 2 * height)]
        cursor = self.cursor_index
        if cursor is not None:
            windows.append((max(0, cursor - height), cursor + height))
        keys: dict[str, None] = {}
        for start, stop in windows:
            keys.update(dict.fromkeys(self._visible[start:stop]))
        return list(keys)

    def _format_remaining_rows(self) -> None:
        """Format every deferred row and size the columns from all of them."""
        rows = self._rows.values()
        if all(row.formatted for row in rows):
            return
        widths = list(self._widths)
        self._measure_all(rows)
        if self._widths != widths:
            self._update_virtual_size()
            self.refresh()

    def _measure_all(self, rows: Iterable[TableRow]) -> None:
        """Size auto-width columns afresh from ``rows`` (only on set_rows/set_columns)."""
        widths = [self._base_width(column) for column in self._columns]
        if self._auto_columns:
            by_column = list(zip_longest(*(row.cells for row in rows), fillvalue=""))
            for index in self._auto_columns:
                if index >= len(by_column):
                    continue
                texts = by_column[index]
                if all(map(str.isascii, texts)):
                    longest = max(map(len, texts), default=0)
                else:
                    longest = max(map(cell_width, texts), default=0)
                max_width = self._columns[index].max_width
                if max_width is not None:
                    longest = min(longest, max_width)
                widths[index] = max(widths[index], longest)
        if widths != self._widths:
            self._widths = widths
            self._strip_cache.clear()

    def _widen_for(self, cells: tuple[str, ...]) -> bool:
        """Widen auto-width columns to fit ``cells``; True if any column grew."""
        widened = False
        widths = self._widths
        for index in self._auto_columns:
            if index >= len(cells):
                break
            text = cells[index]
            width = widths[index]
            if len(text) <= width and text.isascii():
                continue
            length = cell_width(text)
            if length > width:
                limit = self._columns[index].max_width
                new_width = length if limit is None else max(min(length, limit), width)
                if new_width != width:
                    widths[index] = new_width
                    widened = True
        return widened

    def _total_width(self) -> int:
        return MARKER_WIDTH + sum(self._widths) + COLUMN_GAP * max(0, len(self._widths) - 1)

    def _column_index(self, column_key: str) -> int:
        for index, column in enumerate(self._columns):
            if column.key == column_key:
                return index
        raise KeyError(column_key)

    def _column_at(self, x: int) -> str | None:
        start = MARKER_WIDTH
        for column, column_width in zip(self._columns, self._widths):
            if start <= x < start + column_width:
                return column.key
            start += column_width + COLUMN_GAP
        return None

    def _sort_key(self) -> Callable[[str], tuple[Any, ...]]:
        rows = self._rows
        sort_index = self._sort_index
        if sort_index is None:
            return lambda key: (key,)

        def key_function(key: str) -> tuple[Any, ...]:
            value = rows[key].sort_value(sort_index)
            return (value is None, value, key)

        return key_function

    def _rebuild(
        self, *, resort: bool, follow_cursor: bool = False, previous_order: list[str] | None = None
    ) -> None:
        """Recompute the shown rows after a structural change and keep the cursor on its key.

        ``previous_order`` is the full order before the change when the caller replaced it; a
        cursor whose row disappears moves to the nearest row of that order that is still shown.
        """
        if previous_order is None:
            previous_order = list(self._order) if resort else self._order
        old_cursor = self._cursor_key
        was_on_screen = self._cursor_on_screen()
        if resort:
            self._order.sort(key=self._sort_key())
        ordered = reversed(self._order) if self._sort_reverse else self._order
        hidden = self._hidden
        self._visible = [key for key in ordered if key not in hidden] if hidden else list(ordered)
        self._index = {key: index for index, key in enumerate(self._visible)}
        self._update_virtual_size()
        new_cursor = self._surviving_cursor(old_cursor, previous_order)
        self._cursor_key = new_cursor
        self._clamp_scroll()
        self.refresh()
        if new_cursor != old_cursor:
            self._scroll_cursor_into_view()
            self.post_message(self.CursorMoved(self, new_cursor))
        elif follow_cursor or (was_on_screen and not self._cursor_on_screen()):
            self._scroll_cursor_into_view()

    def _surviving_cursor(self, old_cursor: str | None, previous_order: list[str]) -> str | None:
        """The old cursor key if still shown, else its nearest shown neighbour (next, then previous)."""
        index = self._index
        if old_cursor is not None and old_cursor in index:
            return old_cursor
        if not self._visible:
            return None
        if old_cursor is None or old_cursor not in previous_order:
            return self._visible[0]
        position = previous_order.index(old_cursor)
        after = range(position + 1, len(previous_order))
        before = range(position - 1, -1, -1)
        if self._sort_reverse:
            after, before = before, after
        for candidates in (after, before):
            for candidate_position in candidates:
                if previous_order[candidate_position] in index:
                    return previous_order[candidate_position]
        return self._visible[0]

    def _update_virtual_size(self) -> None:
        """Set the scrollable size; a mounted table updates its scrollbars without a layout.

        Assigning ``virtual_size`` lays the whole screen out again (tens of milliseconds with
        every widget of the dashboard). Only this widget's scrollbars depend on it, and a
        scrollbar that appears or disappears still asks for a layout itself.
        """
        size = Size(self._total_width(), len(self._visible) + 1)
        if size == self.virtual_size:
            return
        if not self.is_mounted or not hasattr(self, "_scroll_update"):
            self.virtual_size = size
            return
        self.set_reactive(NodeTable.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _body_height(self) -> int:
        return max(1, self.size.height - 1)

    def _clamp_scroll(self) -> None:
        if self.scroll_offset.y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)

    def _cursor_on_screen(self) -> bool:
        index = self.cursor_index
        if index is None or self.size.height <= 1:
            return True
        top = self.scroll_offset.y
        return top <= index < top + self._body_height()

    def _scroll_cursor_into_view(self) -> None:
        index = self.cursor_index
        if index is None or self.size.height <= 1:
            return
        top = self.scroll_offset.y
        body_height = self._body_height()
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index >= top + body_height:
            self.scroll_to(y=index - body_height + 1, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        top = self.scroll_offset.y
        if top <= index < top + self._body_height():
            self.refresh_line(index + 1)

    def _move_cursor_by(self, delta: int) -> None:
        if not self._visible:
            return
        current = self.cursor_index
        target = 0 if current is None else min(max(current + delta, 0), len(self._visible) - 1)
        self._set_cursor(self._visible[target])

    def _set_cursor(self, key: str) -> None:
        old_key = self._cursor_key
        if key == old_key:
            self._scroll_cursor_into_view()
            return
        old_index = self.cursor_index
        self._cursor_key = key
        if old_index is not None:
            self._refresh_row(old_index)
        self._scroll_cursor_into_view()
        self._refresh_row(self._index[key])
        self.post_message(self.CursorMoved(self, key))
