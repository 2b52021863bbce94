"""`licensebot graph-sim`: serve the simulated tenant as Microsoft Graph v1.0 on this machine.

    licensebot graph-sim --port 8765 --latency-ms 20 --write-quota 3000/150 --fault-429 0.01

Then point the bot at it: `TENANT_BACKEND=graph GRAPH_API_URL=http://127.0.0.1:8765
GRAPH_ACCESS_TOKEN=anything`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from storage.graph.config import WriteQuota
from storage.graph_sim.faults import FaultPlan
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.server import GraphSimulator
from storage.graph_sim.tenant import IN_MEMORY, DatabaseTenant

__all__ = ["build_parser", "main", "run"]


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {text}")
    return value


def _quota(text: str) -> WriteQuota | None:
    if text.strip().lower() in {"off", "none", "0"}:
        return None
    try:
        return WriteQuota.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _token(text: str) -> tuple[str, str]:
    token, _, app = text.partition("=")
    if not token:
        raise argparse.ArgumentTypeError("a token is TOKEN or TOKEN=APP_ID")
    return token, app or token


def _pair(text: str) -> tuple[str, str]:
    first, _, second = text.partition(":")
    if not first or not second:
        raise argparse.ArgumentTypeError(f"expected A:B, not {text!r}")
    return first, second


def _triple(text: str) -> tuple[str, str, str]:
    first, _, rest = text.partition(":")
    return (first, *_pair(rest))


def _rules(args: argparse.Namespace, tenant: DatabaseTenant) -> GraphRules:
    """The tenant options, with users, products and plans resolved by name in the tenant."""
    rules = GraphRules()
    with tenant.session() as directory:
        products = directory.products()
        skus = {p.part_number.casefold(): p.sku_id for p in products} | {p.sku_id: p.sku_id for p in products}
        plans = {plan.name.casefold(): plan.id for p in products for plan in p.service_plans}
        plans |= {plan_id: plan_id for plan_id in plans.values()}

        def sku(name: str) -> str:
            if name.casefold() not in skus:
                raise ValueError(f"the tenant has no product {name!r}")
            return skus[name.casefold()]

        def plan(name: str) -> str:
            if name.casefold() not in plans:
                raise ValueError(f"the tenant has no service plan {name!r}")
            return plans[name.casefold()]

        for user_key, product, error in args.assignment_error:
            user = directory.user(user_key)
            if user is None:
                raise ValueError(f"the tenant has no user {user_key!r}")
            rules.set_assignment_error(user.id, sku(product), error)
        for product, error in args.writes_in_error:
            rules.writes_land_in_error(sku(product), error)
        for product, countries in args.prohibit:
            rules.prohibit(sku(product), *countries.split(","))
        for needing, needed in args.requires:
            rules.require(plan(needing), *(plan(name) for name in needed.split(",")))
    return rules


def build_parser(prog: str = "licensebot graph-sim") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the simulated tenant as the Microsoft Graph v1.0 subset licensebot uses.",
    )
    where = parser.add_argument_group("where")
    where.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    where.add_argument(
        "--port", type=int, default=8765, help="port, 0 for any free one (default: %(default)s)"
    )
    where.add_argument(
        "--database-url",
        default=IN_MEMORY,
        help="the simulated tenant's database; default: a fresh in-memory Contoso demo tenant",
    )
    where.add_argument("--reset", action="store_true", help="recreate the Contoso demo tenant first")
    shape = parser.add_argument_group("behaviour")
    shape.add_argument("--page-size", type=int, default=100, help="items per page (default: %(default)s)")
    shape.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    shape.add_argument(
        "--write-latency-ms", type=float, default=0.0, help="added to every write (batch: once)"
    )
    shape.add_argument(
        "--write-quota",
        type=_quota,
        default=WriteQuota(),
        metavar="N/SECONDS",
        help="writes per window per app, then 429 + Retry-After; 'off' for none (default: 3000/150)",
    )
    shape.add_argument(
        "--token",
        type=_token,
        action="append",
        metavar="TOKEN[=APP]",
        help="accept only these bearer tokens (repeatable); default: any non-empty token",
    )
    tenant = parser.add_argument_group("what a real tenant does beyond the simulated rules")
    tenant.add_argument(
        "--assignment-error",
        type=_triple,
        action="append",
        default=[],
        metavar="USER:PRODUCT:ERROR",
        help="hold a user's license in an error state, e.g. bob@contoso.com:ENTERPRISEPACK:CountViolation",
    )
    tenant.add_argument(
        "--writes-in-error",
        type=_pair,
        action="append",
        default=[],
        metavar="PRODUCT:ERROR",
        help="writes giving this product are taken but hold it in ERROR (e.g. CountViolation)",
    )
    tenant.add_argument(
        "--prohibit",
        type=_pair,
        action="append",
        default=[],
        metavar="PRODUCT:CC[,CC]",
        help="the product is not sold in these usage locations (ProhibitedInUsageLocationViolation)",
    )
    tenant.add_argument(
        "--requires",
        type=_pair,
        action="append",
        default=[],
        metavar="PLAN:PLAN[,PLAN]",
        help="a service plan (name or id) needs these ones turned on (DependencyViolation)",
    )
    tenant.add_argument(
        "--group-processing-seconds",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long processing a change to a group's licenses takes (demo group: 5)",
    )
    tenant.add_argument(
        "--stall-group",
        action="append",
        default=[],
        metavar="GROUP",
        help="processing of this group's license changes never completes (a fault; repeatable)",
    )
    faults = parser.add_argument_group("injected faults (shares of requests, 0..1)")
    faults.add_argument("--fault-429", type=_share, default=0.0, help="429 with Retry-After")
    faults.add_argument(
        "--fault-429-no-retry-after", type=_share, default=0.0, help="429 without Retry-After"
    )
    faults.add_argument("--fault-503", type=_share, default=0.0, help="503 with Retry-After")
    faults.add_argument("--fault-timeout", type=_share, default=0.0, help="answer only after --hang-seconds")
    faults.add_argument("--fault-applied-429", type=_share, default=0.0, help="write applied, answered 429")
    faults.add_argument("--faults-writes-only", action="store_true", help="spare reads from faults")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After of injected faults (seconds)")
    faults.add_argument("--hang-seconds", type=float, default=10.0, help="how long an injected timeout hangs")
    faults.add_argument("--seed", type=int, default=0, help="random seed of the faults")
    return parser


def simulator_from(args: argparse.Namespace) -> GraphSimulator:
    tenant = DatabaseTenant(args.database_url)
    if args.reset:
        tenant.reset_demo()
    tenant.group_processing(seconds=args.group_processing_seconds, stalled=args.stall_group)
    plan = FaultPlan(
        throttle=args.fault_429,
        throttle_no_retry_after=args.fault_429_no_retry_after,
        unavailable=args.fault_503,
        timeout=args.fault_timeout,
        applied_then_throttled=args.fault_applied_429,
        writes_only=args.faults_writes_only,
        retry_after_seconds=args.retry_after,
        hang_seconds=args.hang_seconds,
        seed=args.seed,
    )
    return GraphSimulator(
        tenant,
        host=args.host,
        port=args.port,
        page_size=args.page_size,
        latency_ms=args.latency_ms,
        write_latency_ms=args.write_latency_ms,
        write_quota=args.write_quota,
        faults=plan,
        rules=_rules(args, tenant),
        tokens=dict(args.token) if args.token else None,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    try:
        simulator = simulator_from(args)
    except ValueError as exc:
        sys.stderr.write(f"graph-sim: {exc}\n")
        return 2
    simulator.start()
    quota = args.write_quota
    sys.stdout.write(
        f"Microsoft Graph simulator on {simulator.api_url} "
        f"(write quota {f'{quota.writes}/{quota.window_seconds:g}s' if quota else 'off'}). "
        f"Point the bot at it with TENANT_BACKEND=graph GRAPH_API_URL={simulator.url} "
        "GRAPH_ACCESS_TOKEN=<any token>. Ctrl-C stops it.\n"
    )
    sys.stdout.flush()
    simulator.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return run(build_parser().parse_args(argv))
