"""Work on session folders: replay, compare, latency, bench, proxy, browser, regression."""
