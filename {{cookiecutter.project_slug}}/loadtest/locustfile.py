"""Load test: the peak rate for a minute; fails when the p99 latency exceeds the SLA.

    make run          # the service, in one terminal
    make loadtest     # in another: headless, exits 1 over the SLA or on any failed request

Users ramp up to the peak of {{ cookiecutter.peak_rps }} requests per second, hold it, and stop; what each
request sends comes from request_bodies.py.
"""

import logging
import math
from typing import Any

from locust import FastHttpUser, LoadTestShape, constant_throughput, events, task
from locust.env import Environment
from request_bodies import BODIES

PEAK_RPS = {{ cookiecutter.peak_rps }}
LATENCY_SLA_MS = {{ cookiecutter.latency_sla_ms }}
RPS_PER_USER = 10
USERS = max(1, math.ceil(PEAK_RPS / RPS_PER_USER))
RAMP_UP_S = 15
HOLD_S = 60


class Caller(FastHttpUser):
    """A client calling /predict at a steady rate."""

    wait_time = constant_throughput(RPS_PER_USER)

    @task
    def predict(self) -> None:
        self.client.post("/predict", json=next(BODIES))


class PeakLoad(LoadTestShape):
    """Ramp up to the peak, hold it, stop."""

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() > RAMP_UP_S + HOLD_S:
            return None
        return USERS, USERS / RAMP_UP_S


@events.quitting.add_listener
def fail_over_the_sla(environment: Environment, **_: Any) -> None:
    total = environment.stats.total
    p99 = total.get_response_time_percentile(0.99)
    logging.info(
        "p99 %s ms (SLA %s ms), %s of %s requests failed",
        p99,
        LATENCY_SLA_MS,
        total.num_failures,
        total.num_requests,
    )
    if total.num_requests == 0 or total.num_failures > 0 or p99 > LATENCY_SLA_MS:
        logging.error("the service does not meet its SLA under the peak load")
        environment.process_exit_code = 1
