"""stripe-mock, Stripe's own offline API server (built from its pinned Go module), for billing.

It is stateless: every call is validated against Stripe's OpenAPI spec and answered from fixtures,
so it proves our requests are well-formed, not that Stripe would deduplicate them. Tests that need
to count what reached Stripe read its verbose log (`logs/stripe-mock.log`), one `Request:` line per
call.
"""

from __future__ import annotations

from pathlib import Path

from meridian.localplatform import net
from meridian.localplatform.processes import ProcessSpec, Supervisor

API_KEY = "sk_test_meridianlocal"
"""stripe-mock accepts any key of the right shape; the real one comes from a Secret in production."""


def start(supervisor: Supervisor, run_dir: Path, bin_dir: Path) -> str:
    http, https = net.sticky_ports(run_dir / "stripe-mock.ports", 2)
    supervisor.start(
        ProcessSpec(
            name="stripe-mock",
            # Both listeners on loopback: without -https-addr it would also serve HTTPS on [::].
            argv=[
                str(bin_dir / "stripe-mock"),
                "-http-addr",
                f"{net.LOOPBACK}:{http}",
                "-https-addr",
                f"{net.LOOPBACK}:{https}",
                "-verbose",
            ],
            cwd=run_dir,
        )
    )
    supervisor.wait_ready("stripe-mock", lambda: net.tcp_open(http), timeout=30)
    return f"http://{net.LOOPBACK}:{http}"
