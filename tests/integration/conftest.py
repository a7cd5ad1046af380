"""Session fixtures that give integration tests a real Apache Kafka broker.

With KAFKA_BOOTSTRAP set, the tests use that broker (and its SASL_SSL listener when KAFKA_TLS_BOOTSTRAP,
KAFKA_TLS_CA_FILE, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set too, as
`eval "$(deploy/local/kafka env)"` does). Otherwise the first test that asks for a broker starts one with
`deploy/local/kafka up --tls` on free ports in a temporary run folder, and the session stops it at the
end. The broker is started lazily: a run of unit tests only never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.kafka_helpers import KafkaHelperError, KafkaTls, LocalBroker


@dataclass(frozen=True)
class KafkaBroker:
    """The broker a test session uses; `local` is None when it came from KAFKA_BOOTSTRAP."""

    bootstrap: str
    tls: KafkaTls | None
    local: LocalBroker | None


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if bootstrap:
        yield KafkaBroker(bootstrap=bootstrap, tls=KafkaTls.from_env(os.environ), local=None)
        return
    local = LocalBroker.on_free_ports(tmp_path_factory.mktemp("kafka-session"), tls=True)
    try:
        local.up()
    except KafkaHelperError as exc:
        local.run("down")  # in case it started but never became ready
        pytest.fail(f"could not start the session's Kafka broker: {exc}", pytrace=False)
    try:
        yield KafkaBroker(bootstrap=local.bootstrap, tls=local.tls, local=local)
    finally:
        local.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """host:port of the broker's PLAINTEXT listener."""
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka_tls(kafka_broker: KafkaBroker) -> KafkaTls:
    """The broker's SASL_SSL listener: bootstrap, CA file, SCRAM-SHA-512 user and password."""
    if kafka_broker.tls is None:
        pytest.skip(
            "KAFKA_BOOTSTRAP is set without KAFKA_TLS_BOOTSTRAP/KAFKA_TLS_CA_FILE/KAFKA_SASL_USERNAME/"
            'KAFKA_SASL_PASSWORD: start the broker with `deploy/local/kafka up --tls` and `eval "$('
            'deploy/local/kafka env)"`, or unset KAFKA_BOOTSTRAP to let the tests start their own'
        )
    return kafka_broker.tls
