"""The carrier's API key goes to the carrier's own origin only, however its port is spelled."""

from __future__ import annotations

from yarl import URL

from meridian.services.fulfillment import carrier


def test_a_default_port_spelled_out_is_the_same_origin() -> None:
    base = URL("http://carrier.meridian-system.svc.cluster.local:80")
    label = URL("http://carrier.meridian-system.svc.cluster.local/v1/labels/shp_1.pdf")
    assert carrier.same_origin(label, base)
    assert carrier.same_origin(
        URL("https://api.carrier.example/v1/l.pdf"), URL("https://api.carrier.example:443")
    )


def test_another_host_port_or_scheme_is_not() -> None:
    base = URL("http://carrier.example:80")
    assert not carrier.same_origin(URL("http://labels.example/v1/l.pdf"), base)
    assert not carrier.same_origin(URL("http://carrier.example:8080/v1/l.pdf"), base)
    assert not carrier.same_origin(URL("https://carrier.example/v1/l.pdf"), base)
