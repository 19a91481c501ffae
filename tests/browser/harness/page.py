"""One browser tab in its own browser context (fresh cookies and storage), driven over CDP."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.browser.harness.cdp import CdpConnection, CdpError

BindingHandler = Callable[..., Awaitable[Any]]

# Installed once per document: turns a raw CDP binding into a promise-returning function.
_BRIDGE = """
(() => {
  if (window.__cdpBridge) return
  const pending = new Map()
  let seq = 0
  window.__cdpBridge = {
    call(binding, args) {
      return new Promise((resolve, reject) => {
        const id = ++seq
        pending.set(id, { resolve, reject })
        window[binding](JSON.stringify({ id, args }))
      })
    },
    settle(id, ok, value) {
      const waiter = pending.get(id)
      pending.delete(id)
      if (!waiter) return
      if (ok) waiter.resolve(value)
      else waiter.reject(Object.assign(new Error(value.message), value))
    },
  }
})()
"""


class Page:
    def __init__(self, connection: CdpConnection, session_id: str, target_id: str, context_id: str):
        self.connection = connection
        self.session_id = session_id
        self.target_id = target_id
        self.browser_context_id = context_id
        self.console: list[str] = []  # console messages and uncaught errors, for failure reports
        self._contexts: dict[str, int] = {}  # frame id -> its main-world execution context
        self._main_frame_id = target_id
        self._bindings: dict[str, BindingHandler] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    async def open(cls, connection: CdpConnection) -> Page:
        context_id = (await connection.send("Target.createBrowserContext"))["browserContextId"]
        target_id = (
            await connection.send(
                "Target.createTarget", {"url": "about:blank", "browserContextId": context_id}
            )
        )["targetId"]
        session_id = (
            await connection.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        )["sessionId"]
        page = cls(connection, session_id, target_id, context_id)
        page._listen()
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.add_init_script(_BRIDGE)
        tree = await page.send("Page.getFrameTree")
        page._main_frame_id = tree["frameTree"]["frame"]["id"]
        return page

    async def send(
        self, method: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """A CDP command for this tab: `await page.send("Page.reload", ignoreCache=True)`."""
        return await self.connection.send(
            method, {**(params or {}), **kwargs}, session_id=self.session_id
        )

    def on(self, event: str, handler: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        return self.connection.on(event, handler, session_id=self.session_id)

    def _listen(self) -> None:
        def created(params: dict[str, Any]) -> None:
            context = params["context"]
            aux = context.get("auxData", {})
            if aux.get("isDefault") and aux.get("frameId"):
                self._contexts[aux["frameId"]] = context["id"]

        def destroyed(params: dict[str, Any]) -> None:
            gone = params.get("executionContextId")
            for frame, context in list(self._contexts.items()):
                if context == gone:
                    del self._contexts[frame]

        def console(params: dict[str, Any]) -> None:
            text = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
            )
            self.console.append(f"console.{params.get('type')}: {text}")

        def exception(params: dict[str, Any]) -> None:
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text")
            self.console.append(f"uncaught: {description}")

        def binding(params: dict[str, Any]) -> None:
            handler = self._bindings.get(params["name"])
            if handler is not None:
                task = asyncio.ensure_future(self._answer_binding(handler, params))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        self.on("Runtime.executionContextCreated", created)
        self.on("Runtime.executionContextDestroyed", destroyed)
        self.on("Runtime.executionContextsCleared", lambda _: self._contexts.clear())
        self.on("Runtime.consoleAPICalled", console)
        self.on("Runtime.exceptionThrown", exception)
        self.on("Runtime.bindingCalled", binding)

    # -- navigation and frames -----------------------------------------------------------

    async def goto(self, url: str, *, timeout_s: float = 20) -> None:
        """Navigate the tab and wait for its load event."""
        # The page before must have loaded first: its load event, still to come after a
        # step that waited only for its URL, would otherwise be taken for this one's (CI
        # once filled a field of the page before). Events arrive in order with answers,
        # so once an evaluation sees it complete, that event has gone by.
        await self.wait_for("document.readyState === 'complete'", timeout_s=timeout_s)
        loaded = self.connection.expect_event(
            "Page.loadEventFired", session_id=self.session_id, timeout_s=timeout_s
        )
        answer = await self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            loaded.cancel()
            raise CdpError(f"navigation to {url} failed: {answer['errorText']}")
        await loaded

    async def frame(self, url_part: str, *, timeout_s: float = 30) -> str:
        """The id of the first frame whose URL contains `url_part` (waits for it to appear)."""
        deadline = time.monotonic() + timeout_s
        while True:
            tree = (await self.send("Page.getFrameTree"))["frameTree"]
            found = _find_frame(tree, url_part)
            if found and found in self._contexts:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame with {url_part!r} in its URL after {timeout_s}s")
            await asyncio.sleep(0.1)

    # -- JavaScript ----------------------------------------------------------------------

    async def evaluate(
        self,
        expression: str,
        *,
        frame: str | None = None,
        await_promise: bool = True,
        user_gesture: bool = False,
        timeout_s: float = 30,
    ) -> Any:
        """The JSON value of `expression` in the frame's page world (promises awaited).

        A thrown error becomes CdpError carrying the page's message.
        """
        params: dict[str, Any] = {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": await_promise,
            "userGesture": user_gesture,
        }
        if frame is not None and frame != self._main_frame_id:
            params["contextId"] = await self._context_of(frame)
        answer = await self.connection.send(
            "Runtime.evaluate", params, session_id=self.session_id, timeout_s=timeout_s
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            message = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"page error: {message}")
        return answer.get("result", {}).get("value")

    async def call(self, function: str, *args: Any, frame: str | None = None, **kwargs: Any) -> Any:
        """Evaluate `(function)(...args)` with JSON-serialisable arguments."""
        arguments = ", ".join(json.dumps(arg) for arg in args)
        return await self.evaluate(f"({function})({arguments})", frame=frame, **kwargs)

    async def wait_for(
        self,
        expression: str,
        *,
        frame: str | None = None,
        timeout_s: float = 15,
        interval: float = 0.1,
    ) -> Any:
        """Poll `expression` until it is truthy; returns that value."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = await self.evaluate(expression, frame=frame)
            except CdpError:
                value = None  # the document may be between navigations
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still falsy after {timeout_s}s: {expression}")
            await asyncio.sleep(interval)

    async def add_init_script(self, source: str) -> None:
        """Run `source` in every frame's new document before its own scripts."""
        await self.send("Page.addScriptToEvaluateOnNewDocument", source=source)

    async def expose_function(self, name: str, handler: BindingHandler) -> None:
        """`window[name](...args)` in every frame calls `await handler(*args)` in the test.

        Its value (JSON) resolves the page's promise; an exception rejects it with
        `{message, code}` (set `code` on the exception for EIP-1193-style errors).
        """
        binding = f"__cdp_{name}"
        self._bindings[binding] = handler
        await self.send("Runtime.addBinding", name=binding)
        await self.add_init_script(
            f"window[{json.dumps(name)}] = "
            f"(...args) => window.__cdpBridge.call({json.dumps(binding)}, args)"
        )

    async def _answer_binding(self, handler: BindingHandler, params: dict[str, Any]) -> None:
        request = json.loads(params["payload"])
        try:
            value, ok = await handler(*request["args"]), True
        except Exception as exc:  # reported to the page as a rejection
            value, ok = {"message": str(exc), "code": getattr(exc, "code", None)}, False
        settle = f"{int(request['id'])}, {json.dumps(ok)}, {json.dumps(value)}"
        expression = f"window.__cdpBridge.settle({settle})"
        try:
            await self.connection.send(
                "Runtime.evaluate",
                {"expression": expression, "contextId": params["executionContextId"]},
                session_id=self.session_id,
            )
        except CdpError:
            pass  # the frame navigated away meanwhile: nobody is waiting

    # -- input ---------------------------------------------------------------------------

    async def click(
        self, selector: str, *, frame: str | None = None, timeout_s: float = 10
    ) -> None:
        """Click the first element matching `selector` once it exists, as a user gesture."""
        # `!!`: an element comes back over CDP as `{}`, which Python reads as falsy
        await self.wait_for(
            f"!!document.querySelector({json.dumps(selector)})", frame=frame, timeout_s=timeout_s
        )
        await self.evaluate(
            f"document.querySelector({json.dumps(selector)}).click()",
            frame=frame,
            user_gesture=True,
        )

    async def click_text(
        self,
        text: str,
        *,
        selector: str = "button",
        frame: str | None = None,
        timeout_s: float = 10,
    ) -> None:
        """Click the first enabled `selector` element whose text contains `text`."""
        find = (
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".find((el) => el.textContent.includes({json.dumps(text)}) && !el.disabled)"
        )
        await self.wait_for(f"!!({find})", frame=frame, timeout_s=timeout_s)
        await self.evaluate(f"({find}).click()", frame=frame, user_gesture=True)

    async def type(self, selector: str, text: str, *, frame: str | None = None) -> None:
        """Focus `selector` and type `text` as keyboard input (input events fire)."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()", frame=frame)
        await self.send("Input.insertText", text=text)

    async def text(self, *, frame: str | None = None) -> str:
        return str(await self.evaluate("document.body ? document.body.innerText : ''", frame=frame))

    async def screenshot(self, path: Path) -> Path:
        data = (await self.send("Page.captureScreenshot", format="png"))["data"]
        await asyncio.to_thread(_write, path, base64.b64decode(data))
        return path

    async def _context_of(self, frame: str, timeout_s: float = 30) -> int:
        deadline = time.monotonic() + timeout_s
        while frame not in self._contexts:
            if time.monotonic() > deadline:
                raise TimeoutError(f"frame {frame} has no script context after {timeout_s}s")
            await asyncio.sleep(0.05)
        return self._contexts[frame]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        try:
            await self.connection.send("Target.closeTarget", {"targetId": self.target_id})
            await self.connection.send(
                "Target.disposeBrowserContext", {"browserContextId": self.browser_context_id}
            )
        except CdpError:
            pass  # the browser is gone already


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _find_frame(tree: dict[str, Any], url_part: str) -> str | None:
    if url_part in tree["frame"].get("url", ""):
        return str(tree["frame"]["id"])
    for child in tree.get("childFrames", []):
        found = _find_frame(child, url_part)
        if found:
            return found
    return None
