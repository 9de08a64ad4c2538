"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Run by tests/browser.rs, which starts the server with fixture crashes and
passes what it made in the environment. Checks what a person sees (text on
the page), saves a screenshot of each page, exits non-zero on the first
thing that is not as expected.
"""

import os
import re
import sys
import tempfile

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["CORONER_URL"]
ADMIN = os.environ["CORONER_ADMIN_TOKEN"]
SHOTS = os.environ["CORONER_SHOTS"]
SYSRQ = os.environ["CORONER_SYSRQ_PROBLEM"]
NULL = os.environ["CORONER_NULL_PROBLEM"]
DUMP_CRASH = os.environ["CORONER_DUMP_CRASH"]

# Chromium on a machine without a network or a display (Playwright cannot
# download its own browser here).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=False)
    print(f"screenshot {name}.png")


def main():
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        page = context.new_page()
        expect.set_options(timeout=15_000)

        # Not signed in: the login form, which comes back to the page asked for.
        page.goto(f"{BASE}/")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.get_by_label("Viewer token").fill("0" * 64)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Unknown token")
        shot(page, "login")
        page.get_by_label("Viewer token").fill(ADMIN)
        page.get_by_role("button", name="Log in").click()

        # The problems, with counts and sparklines.
        expect(page.get_by_role("heading", name="Problems")).to_be_visible()
        rows = page.locator("table.problems tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator(f'a[href="/problems/{SYSRQ}"]')).to_be_visible()
        expect(page.locator(f'a[href="/problems/{NULL}"]')).to_be_visible()
        expect(page.locator('svg[aria-label$="in the last 30 days"]').first).to_be_visible()
        shot(page, "problems")

        # A filter: the module of the test module's NULL store.
        page.get_by_label("Module").select_option("crashfixture")
        page.get_by_role("button", name="Apply").click()
        expect(rows).to_have_count(1)
        expect(page.locator(f'a[href="/problems/{NULL}"]')).to_be_visible()
        assert "module=crashfixture" in page.url, page.url
        page.get_by_role("link", name="Clear").click()
        expect(rows).to_have_count(2)
        page.get_by_label("Search").fill("sysrq")
        page.get_by_role("button", name="Apply").click()
        expect(rows).to_have_count(1)
        expect(page.locator(f'a[href="/problems/{SYSRQ}"]')).to_be_visible()

        # Problem → crash → backtrace.
        page.locator(f'a[href="/problems/{SYSRQ}"]').click()
        expect(page.get_by_role("heading", name="Why these crashes are grouped")).to_be_visible()
        expect(page.get_by_text("coroner-signature-v1").first).to_be_visible()
        expect(page.locator('svg[aria-label^="Crashes per kernel release"]')).to_be_visible()
        shot(page, "problem")
        page.locator(f'a[href="/crashes/{DUMP_CRASH}"]').click()
        expect(page.get_by_role("heading", name="Panic backtrace")).to_be_visible()
        backtrace = page.locator("#backtrace + p + table")
        expect(backtrace).to_contain_text("sysrq_handle_crash")
        expect(page.get_by_role("heading", name="Dump")).to_be_visible()
        expect(page.get_by_role("link", name="Download")).to_be_visible()
        shot(page, "crash")
        page.get_by_role("heading", name="Panic backtrace").scroll_into_view_if_needed()
        shot(page, "backtrace")
        page.get_by_text("tasks (the active ones first)").click()
        expect(page.locator("#tasks ~ details table")).to_contain_text("swapper")

        # Merge the NULL problem into the sysrq one: its old link leads there.
        page.goto(f"{BASE}/problems/{NULL}")
        page.get_by_label("Merge into problem").fill(SYSRQ)
        page.get_by_role("button", name="Merge").click()
        expect(page.get_by_role("status")).to_contain_text("Merged")
        assert page.url.split("?")[0].endswith(f"/problems/{SYSRQ}"), page.url
        page.goto(f"{BASE}/problems/{NULL}")
        assert page.url.endswith(f"/problems/{SYSRQ}"), page.url
        expect(page.get_by_text("Split out signature")).to_be_visible()
        page.goto(f"{BASE}/")
        expect(rows).to_have_count(1)

        # The admin page, then log out: the pages ask for a login again.
        page.get_by_role("link", name="Admin").click()
        expect(page.get_by_role("heading", name="Job queue")).to_be_visible()
        expect(page.get_by_text("merge").first).to_be_visible()
        shot(page, "admin")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.goto(f"{BASE}/problems/{SYSRQ}")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert re.search(r"next=/problems/", page.url), page.url

        # A phone's width: the page still reads (the optional columns go).
        page.set_viewport_size({"width": 390, "height": 800})
        page.get_by_label("Viewer token").fill(ADMIN)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Why these crashes are grouped")).to_be_visible()
        page.goto(f"{BASE}/")
        shot(page, "phone")
        context.close()
    print("browser checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the Rust test prints it
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
