"""A cluster restore in words: its plan (what --dry-run prints) and its outcome."""
from __future__ import annotations

from ..queries import quote_name
from .cluster_execute import Outcome
from .cluster_plan import Plan


def describe_plan(plan: Plan) -> str:
    into = (f"into {plan.restored!r} under its own name" if plan.swap in ("recreate", "drop-create") else
            f"into {plan.restored!r} for {plan.name!r}")
    lines = [f"cluster restore plan (Neo4j {plan.line}): backup {plan.backup} {into}, {plan.topology}",
             f"seed: {plan.seed_uri}",
             f"serving meanwhile: {plan.serving}"]
    for n, step in enumerate(plan.steps, 1):
        where = f" [{step.server}]" if step.server else ""
        lines.append(f"{n:>2}. {step.description}{where}")
        if step.cypher:
            lines.append(f"      {step.cypher}" + (f"   (on {step.database})" if step.database != "system" else ""))
        if step.command:
            lines.append(f"      $ {step.command}")
        for source, staged in step.copies:
            lines.append(f"      {source} -> {staged}" if step.kind == "copy_chain" else f"      delete {staged}")
    if plan.swap == "recreate":
        lines.append(f"on failure before the procedure runs: nothing changed, {plan.restored!r} keeps serving; once "
                     f"it runs, the store is being replaced (see the notes)")
    elif plan.swap == "drop-create":
        lines.append("on failure before DROP DATABASE: nothing changed, the downloaded copies are deleted; after it: "
                     "the run stops and says what is left, command by command (the privileges it read among them)")
    elif plan.swap != "offline":
        lines.append(f"on failure before the switch: DROP DATABASE {quote_name(plan.restored)} IF EXISTS, nothing "
                     f"else; {plan.old!r} keeps serving")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def describe_outcome(outcome: Outcome) -> str:
    plan = outcome.plan
    head = {"alias": f"alias {plan.name!r} now targets {plan.restored!r}",
            "default": f"{plan.restored!r} is now the default database",
            "none": f"{plan.restored!r} is online beside {plan.old!r} (nothing switched)",
            "recreate": f"{plan.restored!r} kept its name and privileges",
            "drop-create": f"{plan.restored!r} kept its name and privileges"}[plan.swap]
    lines = [f"restored backup {plan.backup} into {plan.restored!r} on {plan.topology}: {outcome.counts}, as its "
             f"manifest says; {head} ({outcome.seconds:.1f}s)", "what it did:"]
    lines += [f"  - {d}" for d in outcome.done]
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)
