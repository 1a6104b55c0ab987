#!/usr/bin/env python3
"""Drives N sign-ins through an outside provider (bench/federation.sh starts both) and
reports the service's callback time: its own (the callback's total minus the provider's
answer, both from the callback's Server-Timing header), the provider's, and what the
client saw. Sequential, loopback only, bounded by N.

    python3 bench/federation.py SERVICE_BASE RETURN_TO N
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


class Browser:
    """Cookies per host, redirects followed by hand (no Python dependency needed)."""

    def __init__(self):
        self.cookies = {}

    def request(self, method, url, body=None):
        parts = urllib.parse.urlsplit(url)
        jar = self.cookies.setdefault(parts.hostname, {})
        headers = {}
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        path = parts.path + (("?" + parts.query) if parts.query else "")
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                if val and "max-age=0" not in value.lower():
                    jar[key] = val
                else:
                    jar.pop(key, None)
        connection.close()
        return response, data.decode("utf-8", "replace"), elapsed


def between(text, start, end):
    i = text.index(start) + len(start)
    return text[i:text.index(end, i)]


def sign_in(base, return_to, login):
    browser = Browser()
    url = f"{base}/api/v1/auth/oauth/idp/authorize?return_to={urllib.parse.quote(return_to, safe='')}"
    response, _, _ = browser.request("GET", url)
    assert response.status == 302, f"authorize: {response.status}"
    url = response.getheader("Location")
    method, form = "GET", None
    for _ in range(12):
        response, page, _ = browser.request(method, url, form)
        if 300 <= response.status < 400:
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            method, form = "GET", None
            if url.startswith(base):
                break
            continue
        action = between(page, 'action="', '"')
        prompt = between(page, 'name="prompt" value="', '"')
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=login, password="any")
        url, method = urllib.parse.urljoin(url, action), "POST"
    response, _, client = browser.request("GET", url)
    assert response.status == 302, response.status
    back = response.getheader("Location")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
    timing = dict(
        (item.split(";dur=")[0].strip(), float(item.split(";dur=")[1]))
        for item in response.getheader("Server-Timing").split(",")
    )
    exchange = http.client.HTTPConnection(urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port)
    exchange.request("POST", "/api/v1/auth/oauth/exchange", body=json.dumps({"code": code}),
                     headers={"Content-Type": "application/json"})
    assert exchange.getresponse().status == 200
    return timing["total"] - timing["provider"], timing["provider"], client * 1000


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    base, return_to, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    own, provider, client = [], [], []
    for i in range(count):
        o, p, c = sign_in(base, return_to, f"user{i % 50}")
        own.append(o)
        provider.append(p)
        client.append(c)
    for name, values in (("callback, the service's own", own),
                         ("callback, waiting on the provider", provider),
                         ("callback, as the client saw it", client)):
        print(f"{name:36} p50 {percentile(values, 50):7.2f} ms   p99 {percentile(values, 99):7.2f} ms"
              f"   mean {statistics.mean(values):7.2f} ms")
    print(f"sign-ins: {count} (50 users, the first of each a new account)")


if __name__ == "__main__":
    main()
