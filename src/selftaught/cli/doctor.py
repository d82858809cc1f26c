"""`selftaught doctor`: which sandbox layers this machine has, proof they hold, and what a job costs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from selftaught.cli import app
from selftaught.errors import SandboxUnavailable, UsageError


@app.command("doctor")
def doctor(
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
    sandbox: Annotated[
        str, typer.Option("--sandbox", help="Mode to check: strong (default) or weak.")
    ] = "strong",
    jobs: Annotated[int, typer.Option("--jobs", help="Trivial jobs timed for the overhead figure.")] = 200,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Check this model instead: send the preflight request, print latency and reply."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Variable holding the API key. (default: OPENAI_API_KEY)"),
    ] = None,
) -> int:
    """Report every isolation layer (available / active / why not) and the measured per-job overhead.

    Exits 1 when the checked mode cannot run generated code here. With --model, checks the model
    endpoint instead (exit 1: endpoint failed; exit 2: key, model name or URL to fix).
    """
    if model is not None:
        return _check_model(model, api_key_env, json_out)
    from selftaught.defaults import KNOBS, check_value
    from selftaught.sandbox import check_layers
    from selftaught.sandbox.selfcheck import run_selfcheck

    try:
        check_value(KNOBS["sandbox"], sandbox, "--sandbox")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if jobs < 2:
        raise UsageError("--jobs must be at least 2")
    layers = check_layers(sandbox)  # type: ignore[arg-type]
    report: dict[str, Any] = {"mode": sandbox, "layers": [s.to_dict() for s in layers]}
    try:
        check = run_selfcheck(sandbox, jobs=jobs)  # type: ignore[arg-type]
        confirmed = {
            "landlock": (check.worker.get("landlock_abi") or 0) >= 1,
            "seccomp": bool(check.worker.get("seccomp")),
            "uid-drop": bool(check.worker.get("uid_drop")),
        }
        for layer in report["layers"]:  # "active" = what the running worker confirmed from inside
            if layer["name"] in confirmed:
                layer["active"] = confirmed[layer["name"]]
        report.update(
            backstop=backstop_rule(bool(check.worker.get("schedstat"))),
            worker=check.worker,
            ready=check.contained,
            probe=check.probe,
            overhead_ms=round(check.overhead_ms or 0, 3),
            overhead_ms_stdev=round(check.overhead_ms_stdev or 0, 3),
            throughput_jobs_per_s=round(check.throughput_jobs_per_s or 0, 1),
        )
    except SandboxUnavailable as exc:
        report.update(ready=False, error=str(exc), probe={}, overhead_ms=None, throughput_jobs_per_s=None)
    if json_out:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0 if report["ready"] else 1


def _check_model(spec: str, api_key_env: str | None, json_out: bool) -> int:
    """The preflight, on its own: what a run would send before starting (errors propagate to the
    CLI's one-line handlers: EndpointError exit 1, UsageError exit 2)."""
    from selftaught.config import load_settings
    from selftaught.lm import open_model
    from selftaught.lm.preflight import preflight
    from selftaught.stop.assembly import model_settings

    # The run's retry policy and timeout (from the defaults and selftaught.toml), so doctor gives up
    # exactly when a run's preflight would.
    settings = load_settings({"api_key_env": api_key_env} if api_key_env else {})
    with open_model(spec, model_settings(settings)) as client:
        if client.spec.kind == "offline":
            result = {"model": str(client.spec), "ok": True, "detail": "the offline model needs no endpoint"}
            typer.echo(json.dumps(result) if json_out else f"{client.spec}: offline model, nothing to check")
            return 0
        checked = preflight(client)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "model": checked.model,
                    "ok": True,
                    "latency_s": round(checked.latency_s, 3),
                    "reply": checked.reply,
                    "finish_reason": checked.finish_reason,
                    "warning": checked.warning,
                }
            )
        )
    else:
        typer.echo(
            f"{checked.model}: ok, {checked.latency_s * 1000:.0f} ms, finish reason {checked.finish_reason}"
        )
        typer.echo(f"reply: {checked.reply.strip()[:200]!r}")
        if checked.warning:
            typer.echo(f"warning: {checked.warning}", err=True)
    return 0


def _print(report: dict[str, Any]) -> None:
    from rich.table import Table

    from selftaught.cli.output import console as make_console

    console = make_console()
    table = Table(title=f"sandbox layers ({report['mode']} mode)")
    for column in ("layer", "available", "active", "detail / fix"):
        table.add_column(column)
    for layer in report["layers"]:
        detail = layer["detail"] + (
            f"  [yellow]fix: {layer['fix']}[/]" if layer["fix"] and not layer["available"] else ""
        )
        table.add_row(layer["name"], _mark(layer["available"]), _mark(layer["active"]), detail)
    console.print(table)
    if report.get("error"):
        console.print(f"[red]cannot run generated code:[/] {report['error']}")
        return
    probe = report["probe"]
    console.print("probe inside the sandbox: " + ", ".join(f"{k}: {v}" for k, v in probe.items()))
    console.print(f"backstop of CPU-limited calls: {report['backstop']}", markup=False)
    console.print(
        f"per-job overhead: {report['overhead_ms']:.2f} ms (sd {report['overhead_ms_stdev']:.2f}); "
        f"throughput: {report['throughput_jobs_per_s']:.0f} jobs/s"
    )
    console.print("[green]ready[/]" if report["ready"] else "[red]NOT contained: see the probe above[/]")


def backstop_rule(schedstat: bool) -> str:
    """Which rule ends a CPU-limited call that does not compute (docs/sandbox.md, "Time limits")."""
    if schedstat:
        return "sleep time: wall minus CPU minus run-queue wait (/proc/PID/schedstat); load alone ends a call only past 30 limits of wall time"
    return "wall time (this kernel gives no /proc/PID/schedstat): a very busy machine can end a call"


def _mark(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]no[/]"
