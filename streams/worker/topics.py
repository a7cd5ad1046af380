"""Every topic the worker reads or writes is created up front, with one partition count.

Faust ignores a source topic that does not exist when the worker starts ("Ignoring missing topic") and
never consumes it until restarted, and a table only works when its changelog has the partition count
of the topic feeding it. So before the app starts, ``ensure_topics`` creates the records, events and
health topics and the tables' changelogs (compacted) with ``partitions`` partitions, checks the ones
that exist, and turns a refusal into a ``WorkerError`` that says what to create by hand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from streams.errors import WorkerError
from streams.worker.settings import WorkerSettings, client_kwargs

_FORBIDDEN = {29, 31, 44}  # TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED, POLICY_VIOLATION
_EXISTS = 36  # TOPIC_ALREADY_EXISTS


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def changelog(settings: WorkerSettings, table: str) -> str:
    """The changelog topic Faust uses for ``table`` of this app."""
    return f"{settings.app_id}-{table}-changelog"


def worker_topics(settings: WorkerSettings, tables: tuple[str, ...]) -> list[TopicSpec]:
    n = settings.partitions
    topics = [TopicSpec(settings.topics.records, n), TopicSpec(settings.topics.events, n)]
    topics.append(TopicSpec(settings.topics.health, n))
    topics += [TopicSpec(changelog(settings, t), n, {"cleanup.policy": "compact"}) for t in tables]
    return topics


async def ensure_topics(
    settings: WorkerSettings, specs: list[TopicSpec], timeout_s: float = 30.0
) -> list[str]:
    """Create what is missing, check what exists; returns the names created."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        await admin.close()
        raise WorkerError(f"cannot reach the broker {settings.broker}: {exc!r}") from exc
    try:
        return await _ensure(admin, settings, specs)
    finally:
        await admin.close()


async def _ensure(admin: AIOKafkaAdminClient, settings: WorkerSettings, specs: list[TopicSpec]) -> list[str]:
    existing = {
        t["topic"]: len(t["partitions"]) for t in await admin.describe_topics() if not t["error_code"]
    }
    missing = [s for s in specs if s.name not in existing]
    for spec in specs:
        have = existing.get(spec.name)
        if have is not None and have != spec.partitions:
            raise WorkerError(
                f"topic {spec.name} has {have} partitions but the worker is configured for {spec.partitions} "
                f"(partitions / MPWATCH_PARTITIONS): every topic and changelog must have the same count"
            )
    if not missing:
        return []
    new = [NewTopic(s.name, s.partitions, settings.replication, topic_configs=s.config) for s in missing]
    try:
        response = await admin.create_topics(new)
    except KafkaError as exc:
        raise _refused([s.name for s in missing], str(exc), settings) from exc
    created = []
    for name, code, *rest in response.topic_errors:
        if code == 0:
            created.append(name)
        elif code != _EXISTS:
            message = (rest[0] if rest else None) or for_code(code).__name__
            if code in _FORBIDDEN:
                raise _refused([name], message, settings)
            raise WorkerError(f"cannot create topic {name}: {message} (error {code})")
    return created


def _refused(names: list[str], why: str, settings: WorkerSettings) -> WorkerError:
    return WorkerError(
        f"the broker refused to create topic(s) {', '.join(names)}: {why}; create them with "
        f"{settings.partitions} partitions (changelogs compacted) or grant this principal CREATE"
    )
