"""Demo suite: the browser harness's fixtures, for driving the served demo shop in Chromium."""

from tests.browser.harness.fixtures import *  # noqa: F403 (browser, page, the failure hook)
