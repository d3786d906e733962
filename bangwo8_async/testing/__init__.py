"""Test against a Bangwo8 that runs in your own process: no account, no network.

``FakeBangwo8`` serves the call-task API with the vendor's payloads and
quirks, seeded sample data, latency and faults on demand, and a request log.
The pytest plugin (installed with the package) provides it as the
``bangwo8_fake`` and ``bangwo8_fake_factory`` fixtures.
"""

from .fake import RATE_FAULTS, FakeBangwo8, FakeState, Fault, LoggedRequest

__all__ = ["RATE_FAULTS", "FakeBangwo8", "FakeState", "Fault", "LoggedRequest"]
