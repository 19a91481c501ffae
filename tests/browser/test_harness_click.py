"""The harness clicks by selector (an element serialises to `{}` over CDP: truthiness matters)."""

from __future__ import annotations


async def test_click__fires_on_an_existing_element(page, static_site):
    static_site.pages["/click.html"] = (
        "<button id='b' onclick=\"document.title='clicked'\">Go</button>"
    )
    await page.goto(f"{static_site.url}/click.html")
    await page.click("#b", timeout_s=5)
    assert await page.evaluate("document.title") == "clicked"
