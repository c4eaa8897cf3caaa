"""The web triage desk (工作台): the alert queue, evidence, incidents, patrol ledger and dashboards.

Server-rendered (aiohttp.web + Jinja2) with little JavaScript; every action goes through the same
workflow functions as the command line (alerts.workflow, alerts.people, alerts.leads).
"""
