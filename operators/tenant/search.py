"""Step 5, SearchReady: the tenant's product index and its alias in Elasticsearch.

The index contract is core's (`meridian.core.search`), and so is the call: the same
`indices.ensure` the search service makes lazily on a tenant's first product event, idempotent and
race-safe, so the two never fight. Whoever comes first creates generation 1 behind the alias; the
other finds the alias and leaves it alone, whichever generation a reindex has since swapped in.
The operator only ever creates the first index and, at offboarding, deletes every generation.

Elasticsearch is not Kubernetes: nothing of this is in the cluster, and its outage only holds up
this condition (False, `ElasticsearchUnavailable`), never the steps before or after it. A platform
with no Elasticsearch (`elasticsearch_url` unset) has no search: the step is left out, and the
Tenant is Ready without it.
"""

from __future__ import annotations

import uuid

from meridian.core.search import elastic, indices
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import reasons


def unavailable(error: elastic.Unavailable) -> reconciler.ConditionUpdate:
    return reconciler.ConditionUpdate(
        reasons.SEARCH_READY, "False", reasons.ELASTICSEARCH_UNAVAILABLE, str(error)
    )


async def ensure(
    client: elastic.Elastic, prefix: str, tenant_id: uuid.UUID
) -> reconciler.ConditionUpdate:
    alias = indices.alias(prefix, tenant_id)
    try:
        await indices.ensure(client, prefix, tenant_id)
        behind = await indices.behind(client, alias)
    except elastic.Unavailable as error:
        return unavailable(error)
    except indices.Refused as error:
        return reconciler.ConditionUpdate(
            reasons.SEARCH_READY, "False", reasons.SEARCH_INDEX_REFUSED, str(error)
        )
    if not behind:  # deleted between the two calls (an offboarding racing a re-creation)
        message = f"alias {alias} points at no index"
        return reconciler.ConditionUpdate(
            reasons.SEARCH_READY, "False", reasons.SEARCH_INDEX_REFUSED, message
        )
    message = f"alias {alias} on index {', '.join(behind)}"
    return reconciler.ConditionUpdate(reasons.SEARCH_READY, "True", reasons.PROVISIONED, message)
