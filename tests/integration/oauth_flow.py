"""A browser signing in with a provider, followed by hand: requests.Session
with allow_redirects off, start (Warren) -> authorize (the provider) ->
callback (Warren) -> public_url.  The public URL is http://warren.test,
which nobody resolves: the callback's path and query go to nginx directly."""

import urllib.parse

import requests

from conftest import HTTP_TIMEOUT, assert_problem
from identity_util import PUBLIC_URL, audit, call, new_request_id, psql, set_cookies

SESSION_COOKIES = ("warren_access", "warren_refresh", "warren_csrf")


class Flow:
    """One browser signing in with a provider."""

    def __init__(self, w, provider, session=None):
        self.w = w
        self.provider = provider
        self.session = session or requests.Session()
        self.callback_prefix = f"{PUBLIC_URL}/api/v1/auth/oauth/{provider}/callback?"

    def start(self, expect=302, headers=None, **params):
        r = self.session.get(self.w.url(f"/api/v1/auth/oauth/{self.provider}/start"),
                             params=params, headers=headers, allow_redirects=False,
                             timeout=HTTP_TIMEOUT)
        assert r.status_code == expect, r.text
        if expect == 302:
            self.authorize_url = r.headers["Location"]
            cookie = set_cookies(r)["warren_oauth"]
            self.binding = cookie[0]
            assert cookie[0] and cookie[1].get("httponly") is True, cookie
            assert cookie[1].get("samesite") == "Lax", cookie
            self.query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
                self.authorize_url).query))
            self.state = self.query["state"]
        return r

    def keep_binding(self):
        """Puts the binding cookie (back) into this browser."""
        self.session.cookies.clear()
        self.session.cookies.set("warren_oauth", self.binding)

    def authorize(self):
        """The provider's answer: the URL it sends the browser back to.
        (Warren's cookies are not the provider's business: no session.)"""
        r = requests.get(self.authorize_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        assert r.status_code == 302, r.text
        self.callback_url = r.headers["Location"]
        assert self.callback_url.startswith(self.callback_prefix), self.callback_url
        self.callback_query = dict(urllib.parse.parse_qsl(
            self.callback_url[len(self.callback_prefix):]))
        return self.callback_url

    def callback(self, url=None, session=None, **replace):
        """Follows the provider's redirect to Warren; replace= changes
        query parameters (state=, code=) on the way."""
        q = dict(self.callback_query)
        q.update(replace)
        url = url or self.callback_prefix + urllib.parse.urlencode(q)
        assert url.startswith(PUBLIC_URL)
        self.rid = new_request_id()
        return (session or self.session).get(
            self.w.url(url[len(PUBLIC_URL):]), allow_redirects=False, timeout=HTTP_TIMEOUT,
            headers={"X-Request-Id": self.rid})

    def run(self, **start_params):
        self.start(**start_params)
        self.authorize()
        return self.callback()


def signed_in(w, r, return_to="/"):
    """A successful callback: session cookies and a redirect to the site."""
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == PUBLIC_URL + return_to
    cookies = set_cookies(r)
    assert set(SESSION_COOKIES) <= set(cookies), cookies
    assert cookies["warren_oauth"][1].get("max-age") == "0", cookies
    access = cookies["warren_access"][0]
    me = call(w, "GET", "/me", headers={"Cookie": f"warren_access={access}"})
    assert me.status_code == 200 and me.json()["auth"] == "cookie", me.text
    return me.json()


def refused(w, admin_token, flow, r, reason, status=403):
    """A refused callback: a problem, no session, an audit entry."""
    body = assert_problem(r, status)
    assert reason in body.get("detail", ""), body
    cookies = set_cookies(r)
    assert not set(SESSION_COOKIES) & set(cookies), cookies
    entries = [e for e in audit(w, admin_token, action="auth.oauth_login", limit=200)["items"]
               if e["request_id"] == flow.rid]
    assert len(entries) == 1, entries
    e = entries[0]
    assert e["result"] == "failure" and e["target_id"] == flow.provider, e
    assert e["source_addr"] == "127.0.0.1", e
    assert reason in e["details"].get("reason", ""), e
    return body


def identity_user(w, provider, subject):
    return psql(w, f"SELECT user_id FROM identities WHERE provider = '{provider}'"
                   f" AND subject = '{subject}'")


def user_count(w):
    return int(psql(w, "SELECT count(*) FROM users"))
