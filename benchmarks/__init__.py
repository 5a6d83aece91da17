"""knm-tui's benchmarks: ``python -m benchmarks [--quick] [--json PATH] [--only NAME...]``.

Every scenario measures the product against what a user would otherwise run (kubectl, the stock
``kubernetes`` client, Textual's stock ``DataTable``) or against the floor (a bare HTTP fetch and
``json.loads``), on the same simulated clusters in the same run, and judges the figures by the
budgets of the product's performance goals. ``python -m benchmarks soak --minutes N`` runs the
long soak test.
"""
