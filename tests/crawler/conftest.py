"""Loopback servers shared by the crawler's end-to-end tests."""

import pytest

from loopback import Site, SmtpReceiver, WebhookReceiver


@pytest.fixture
async def servers():
    site = await Site().start()
    hook = await WebhookReceiver().start()
    smtp = SmtpReceiver().start()
    yield site, smtp, hook
    smtp.stop()
    await hook.stop()
    await site.stop()
