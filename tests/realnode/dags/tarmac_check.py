"""The DAG the real-node tier triggers: one task that says where it ran."""
from __future__ import annotations

import socket

import pendulum
from airflow.sdk import DAG, task

with DAG("tarmac_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):

    @task
    def where():
        print("tarmac_check ran on", socket.gethostname())
        return socket.gethostname()

    where()
