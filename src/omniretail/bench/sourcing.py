"""`omniretail bench sourcing`: the sourcing policies on one instance, online and in one batch (issue 6).

Each policy sources the orders in the given sequence, every decision taking its units from the network before
the next order (online); `optimal_batch` sources them together (fix-and-optimise over windows, see
`sourcing.batch`), starting from the default policy's online plan; its `lower_bound` (each order's own bound on
the untouched network, summed) is a floor no plan of the batch can go under.

The default policy runs with bid prices (`sourcing.bidprice`) from the instance's forecast, or, when the
instance has none, from the batch's own demand per SKU and destination (labelled so in the output). Prices are
re-solved between decisions, as a background job would, and timed apart from the decisions; the default without
prices runs too, as a reference.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from omniretail.bench.common import machine, percentiles, write_json
from omniretail.sourcing.batch import source_batch
from omniretail.sourcing.bidprice import SCENARIOS, BidPricer, Forecast, aggregate
from omniretail.sourcing.decision import Decision
from omniretail.sourcing.instances import Instance, generate_instance, load_instance, parse_instance
from omniretail.sourcing.milp import most_units_fillable
from omniretail.sourcing.optimizer import source

ONLINE = ("default", "greedy", "optimal")
TARGETS = {"default_vs_batch_pct": 1.0, "default_below_greedy_pct": 8.0, "fewer_splits_than_greedy_pct": 25.0,
           "decision_p99_ms": 10.0}


def _bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def _tally(rows: list[tuple[float, float, int, bool, int, bool]], seconds: float) -> dict[str, Any]:
    """Totals over (total cost, unfilled cost, packages, split, unfilled units, proven optimal) per order."""
    total = sum(row[0] for row in rows)
    unfilled_cost = sum(row[1] for row in rows)
    n = len(rows)
    return {"orders": n, "total_cost": round(total, 4), "shipping_cost": round(total - unfilled_cost, 4),
            "packages": sum(row[2] for row in rows), "splits": sum(1 for row in rows if row[3]),
            "unfilled_units": sum(row[4] for row in rows),
            "proven_optimal": sum(1 for row in rows if row[5]),
            "seconds": round(seconds, 3), "decisions_per_s": round(n / seconds, 1) if seconds > 0 else None}


def _row(decision: Decision) -> tuple[float, float, int, bool, int, bool]:
    proven = decision.lower_bound is not None and decision.total_cost <= decision.lower_bound + 1e-9
    return (decision.total_cost, decision.cost.unfilled, decision.packages, decision.split, decision.unfilled_units,
            proven)


def _online(instance: Instance, policy: str, bar: Progress, keep: bool,
            pricer: BidPricer | None = None) -> tuple[dict[str, Any], list[Decision]]:
    network = instance.network.copy()
    task = bar.add_task(f"{policy}{' with bid prices' if pricer else ''} (online)", total=len(instance.orders))
    rows, samples, kept = [], [], []
    priced = 0
    for order in instance.orders:
        prices = None if pricer is None else pricer.refresh(network)  # between decisions, not timed with them
        started = time.perf_counter()
        decision = source(order, network, instance.cost, policy, prices=prices)
        samples.append(time.perf_counter() - started)
        network.consume(decision.picks)
        if pricer is not None:
            pricer.observe(sum(pick.quantity for pick in decision.picks))
            priced += any(note.startswith("bid prices used") for note in decision.notes)
        rows.append(_row(decision))
        if keep:
            kept.append(decision)
        bar.advance(task)
    result = _tally(rows, sum(samples))
    result["latency"] = percentiles(samples) if samples else None
    if pricer is not None:
        result["bid_prices"] = True
        result["decisions_with_prices"] = priced
    return result, kept


def _forecast(instance: Instance) -> tuple[Forecast, str]:
    """The instance's forecast, else the batch's own demand per SKU and destination (said so)."""
    if instance.forecast is not None:
        return instance.forecast, "instance"
    return aggregate(instance.orders, source="aggregate forecast from the batch itself: units per SKU and "
                                             "destination (0.1 degree), not a forecast the policy could have"), \
        "batch_aggregate"


def _pricing(pricer: BidPricer, forecast: Forecast, kind: str) -> dict[str, Any]:
    solves = pricer.solve_seconds
    return {"forecast": {"kind": kind, "source": forecast.source, "orders": forecast.orders,
                         "units": round(forecast.units, 3), "entries": len(forecast.demand)},
            "every_orders": pricer.every, "unit_share": pricer.unit_share, "nearest_holders": pricer.nearest,
            "scenarios": pricer.scenarios, "seed": pricer.seed,
            "lp_columns": None if pricer.prices is None else pricer.prices.columns,
            "resolves": pricer.solves, "resolve_seconds_total": round(sum(solves), 3),
            "first_solve_seconds": round(solves[0], 3) if solves else None,
            "resolve_ms": percentiles(solves) if solves else None,
            "last_prices": None if pricer.prices is None else pricer.prices.summary(),
            "note": "re-solved between decisions (as a background job would); not in the decision latency"}


def _pct(a: float, b: float) -> float | None:
    return round((a / b - 1) * 100, 3) if b else None


def run_sourcing_bench(*, instance: Path | None, output: Path, console: Console,
                       batch_time_limit: float = 2.0, batch: bool = True, scenarios: int = SCENARIOS) -> dict[str, Any]:
    """Source the instance's orders with every policy, print a table and write JSON (`batch=False`: without
    optimal_batch, which takes minutes on large tight instances)."""
    if instance is None:
        document = generate_instance()
        loaded, source_name = parse_instance(document), "generated: " + ", ".join(
            f"{k} {v}" for k, v in document["generator"].items())
    else:
        loaded, source_name = load_instance(instance), str(instance)
    summary = loaded.summary()
    console.print(f"sourcing benchmark on {source_name}: {summary['locations']} locations, {summary['orders']:,} "
                  f"orders, {summary['skus']:,} SKUs")
    gc.collect()
    gc.freeze()  # the instance is long-lived data; collections should not walk it between decisions
    result: dict[str, Any] = {"benchmark": "sourcing", "instance": {"source": source_name, **summary},
                              "cost": loaded.cost.to_dict(), "machine": machine(), "policies": {}}
    forecast, kind = _forecast(loaded)
    pricer = BidPricer(forecast, loaded.cost, scenarios=scenarios)
    demand: dict[str, int] = {}
    for order in loaded.orders:
        for sku, units in order.lines.items():
            demand[sku] = demand.get(sku, 0) + units
    bound = None
    with _bar(console) as bar:
        result["policies"]["default"], default_plan = _online(loaded, "default", bar, keep=True, pricer=pricer)
        result["bid_prices"] = _pricing(pricer, forecast, kind)
        result["batch"] = {"unfilled_units_floor": sum(demand.values()) - most_units_fillable(demand, loaded.network)}
        if batch:
            task = bar.add_task("optimal_batch (windows)", total=None)
            batched = source_batch(loaded.orders, loaded.network, loaded.cost, start=default_plan,
                                   time_limit=batch_time_limit,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
            batch_seconds = batched.seconds + result["policies"]["default"]["seconds"]
            result["policies"]["optimal_batch"] = _tally([_row(d) for d in batched.decisions], batch_seconds)
            bound = batched.lower_bound
            result["batch"].update({"windows": batched.windows, "improved_windows": batched.improved_windows,
                                    "skipped_windows": batched.skipped_windows, "solver_statuses": batched.statuses,
                                    "start_cost": round(batched.start_cost, 4),
                                    "lower_bound": None if bound is None else round(bound, 4),
                                    "seconds_including_start": round(batch_seconds, 3)})
            del batched
        else:
            result["batch"]["skipped"] = "--no-batch"
        del default_plan
        gc.collect()
        unpriced, _ = _online(loaded, "default", bar, keep=False)
        for policy in ("greedy", "optimal"):
            result["policies"][policy], _ = _online(loaded, policy, bar, keep=False)
        most_lines, _ = _online(loaded, "most_lines", bar, keep=False)
    result["reference_policies"] = {"default_without_prices": unpriced, "most_lines": most_lines}
    result["policies"] = {name: result["policies"][name] for name in (*ONLINE, "optimal_batch")
                          if name in result["policies"]}
    result["comparison"] = _compare(result["policies"], bound)
    greedy = result["policies"]["greedy"]
    result["comparison"]["default_without_prices_below_greedy_pct"] = None if not greedy["total_cost"] else \
        round((1 - unpriced["total_cost"] / greedy["total_cost"]) * 100, 3)
    result["comparison"]["prices_saved_units"] = unpriced["unfilled_units"] - result["policies"]["default"][
        "unfilled_units"]
    reference = result["reference_policies"]["most_lines"]
    default = result["policies"]["default"]
    result["comparison"]["default_below_most_lines_pct"] = None if not reference["total_cost"] else \
        round((1 - default["total_cost"] / reference["total_cost"]) * 100, 3)
    result["comparison"]["default_below_most_lines_shipping_pct"] = None if not reference["shipping_cost"] else \
        round((1 - default["shipping_cost"] / reference["shipping_cost"]) * 100, 3)
    result["comparison"]["fewer_splits_than_most_lines_pct"] = None if not reference["splits"] else \
        round((1 - default["splits"] / reference["splits"]) * 100, 3)
    result["targets"] = TARGETS
    gc.unfreeze()
    _print(result, console)
    write_json(output, result)
    console.print(f"written to {output}")
    return result


def _compare(policies: dict[str, Any], bound: float | None) -> dict[str, Any]:
    default, greedy, batch = policies["default"], policies["greedy"], policies.get("optimal_batch")
    return {
        "default_vs_batch_pct": None if batch is None else _pct(default["total_cost"], batch["total_cost"]),
        "default_vs_batch_shipping_pct": None if batch is None else _pct(default["shipping_cost"],
                                                                         batch["shipping_cost"]),
        "default_vs_optimal_online_pct": _pct(default["total_cost"], policies["optimal"]["total_cost"]),
        "default_below_greedy_pct": None if not greedy["total_cost"] else
        round((1 - default["total_cost"] / greedy["total_cost"]) * 100, 3),
        "default_below_greedy_shipping_pct": None if not greedy["shipping_cost"] else
        round((1 - default["shipping_cost"] / greedy["shipping_cost"]) * 100, 3),
        "fewer_splits_than_greedy_pct": None if not greedy["splits"] else
        round((1 - default["splits"] / greedy["splits"]) * 100, 3),
        "batch_vs_lower_bound_pct": None if bound is None or batch is None else _pct(batch["total_cost"], bound),
        "decision_p99_ms": default["latency"]["p99_ms"] if default.get("latency") else None,
    }


def _print(result: dict[str, Any], console: Console) -> None:
    instance = result["instance"]
    table = Table("policy", "total", "shipping", "parcels", "splits", "unfilled", "per s", "p50 ms", "p99 ms",
                  title=f"sourcing: {instance['locations']} locations, {instance['orders']:,} orders")
    console.print("total = cost with the unfilled-unit penalty, shipping = without it; per s = decisions per "
                  "second; unfilled in units")
    names = {"default": "default (bid prices)"}
    rows = {names.get(name, name): row for name, row in result["policies"].items()}
    rows["default without prices (reference)"] = result["reference_policies"]["default_without_prices"]
    rows["most_lines (reference)"] = result["reference_policies"]["most_lines"]
    for name, row in rows.items():
        latency = row.get("latency") or {}
        table.add_row(name, f"{row['total_cost']:,.2f}", f"{row['shipping_cost']:,.2f}", f"{row['packages']:,}",
                      f"{row['splits']:,}", f"{row['unfilled_units']:,}", f"{row['decisions_per_s']:,}",
                      str(latency.get("p50_ms", "")), str(latency.get("p99_ms", "")))
    console.print(table)
    c, batch = result["comparison"], result["batch"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.3f}%"

    console.print(f"default vs optimal_batch: {pct(c['default_vs_batch_pct'])} total cost, "
                  f"{pct(c['default_vs_batch_shipping_pct'])} shipping cost (target within 1%)")
    console.print(f"default below greedy: {pct(c['default_below_greedy_pct'])} total cost, "
                  f"{pct(c['default_below_greedy_shipping_pct'])} shipping cost (target at least 8%); fewer splits "
                  f"than greedy: {pct(c['fewer_splits_than_greedy_pct'])} (target at least 25%); decision p99 "
                  f"{c['decision_p99_ms']} ms (target under 10)")
    console.print(f"reference, most lines in full first (fewest parcels): default "
                  f"{pct(c['default_below_most_lines_pct'])} below it in total cost, "
                  f"{pct(c['default_below_most_lines_shipping_pct'])} in shipping cost, "
                  f"{pct(c['fewer_splits_than_most_lines_pct'])} fewer splits")
    prices = result["bid_prices"]
    resolve = prices["resolve_ms"] or {}
    console.print(f"bid prices, forecast: {prices['forecast']['source']} ({prices['forecast']['units']:,.0f} units "
                  f"over {prices['forecast']['orders']:,} orders, {prices['scenarios']} demand scenarios per solve); "
                  f"re-solved {prices['resolves']} times between "
                  f"decisions ({prices['resolve_seconds_total']} s in all, first {prices['first_solve_seconds']} s, "
                  f"p50 {resolve.get('p50_ms')} ms; not in the decision latency), {prices['lp_columns'] or 0:,} LP "
                  "columns; "
                  f"{result['policies']['default']['decisions_with_prices']:,} decisions used prices; without "
                  f"prices the default is {pct(c['default_without_prices_below_greedy_pct'])} below greedy and leaves "
                  f"{c['prices_saved_units']:,} more units unfilled")
    if "skipped" in batch:
        console.print(f"optimal_batch skipped ({batch['skipped']}); no plan leaves fewer than "
                      f"{batch['unfilled_units_floor']:,} units unfilled")
        return
    bound = batch["lower_bound"]
    console.print(f"optimal_batch: {batch['windows']} windows ({batch['improved_windows']} improved, "
                  f"{batch['skipped_windows']} already at their bound), HiGHS {batch['solver_statuses']}; lower bound "
                  f"{'n/a' if bound is None else f'{bound:,.2f}'} (batch {pct(c['batch_vs_lower_bound_pct'])} above "
                  f"it); no plan leaves fewer than {batch['unfilled_units_floor']:,} units unfilled")
