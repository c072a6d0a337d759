#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Event sourcing on Redcar: a bank account rebuilt from its history.

The account has no table and no row: its state is whatever its events say.
All events of account 42 share the subject ``accounts/42``:

    load     GET /events?subject=accounts/42 (paged, oldest first) and fold
             every event into an Account; the seq of the last one is the
             account's *version*.
    decide   a command (deposit, withdraw) checks the rules against that
             state (no overdraft) and produces one new event.
    append   POST /events?expect_seq=<version>&expect_subject=accounts/42.
             Redcar appends only if the subject's latest event is still
             <version>; if someone else wrote in between it answers
             409 Conflict and appends nothing. Then we reload and decide
             again, because the rules may now say no.

Each command carries its own id, used as the event id. (source, id) is
Redcar's idempotency key, so a command retried after a lost answer is
stored at most once: the retry answers 200 "duplicate" with the first seq
(try it: run the same deposit twice with the same COMMAND_ID).

Usage:
  account.py open ACCOUNT [OWNER]
  account.py deposit ACCOUNT AMOUNT [COMMAND_ID]
  account.py withdraw ACCOUNT AMOUNT [COMMAND_ID]
  account.py show ACCOUNT
  account.py race ACCOUNT        two concurrent withdrawals of 70 from 100
Env: REDCAR_URL (default http://127.0.0.1:8519)
"""
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ.get("REDCAR_URL", "http://127.0.0.1:8519")
SOURCE = "/examples/bank"
TYPE = "com.example.bank."  # + opened / deposited / withdrawn


class Conflict(Exception):
    """The subject moved on since we loaded it (HTTP 409)."""


class Rejected(Exception):
    """The command breaks a business rule; nothing is appended."""


# ---- HTTP ----------------------------------------------------------------

def http(method, path, body=None, headers=None):
    """(status, parsed JSON body); HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.load(res), res.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


# ---- the aggregate -------------------------------------------------------

class Account:
    """State folded from events. apply() must never fail or do I/O: the
    past cannot be refused, only replayed."""

    def __init__(self, account_id):
        self.id = account_id
        self.subject = "accounts/%s" % account_id
        self.opened = False
        self.owner = None
        self.balance = 0
        self.version = 0  # seq of the latest event of the subject; 0 = none yet

    def apply(self, ev):
        kind = ev["type"][len(TYPE):] if ev["type"].startswith(TYPE) else None
        data = ev.get("data") or {}
        if kind == "opened":
            self.opened, self.owner = True, data.get("owner")
        elif kind == "deposited":
            self.balance += data["amount"]
        elif kind == "withdrawn":
            self.balance -= data["amount"]
        # Events of other types on the subject (if any) are not ours: skip.
        self.version = ev["seq"]

    # Commands: check the rules against the current state, return the event.
    def open(self, owner):
        if self.opened:
            raise Rejected("account %s is already open" % self.id)
        return "opened", {"owner": owner}

    def deposit(self, amount):
        if not self.opened:
            raise Rejected("account %s is not open" % self.id)
        if amount <= 0:
            raise Rejected("amount must be positive")
        return "deposited", {"amount": amount}

    def withdraw(self, amount):
        if not self.opened:
            raise Rejected("account %s is not open" % self.id)
        if amount <= 0:
            raise Rejected("amount must be positive")
        if amount > self.balance:
            raise Rejected("insufficient funds: balance %d, withdrawal %d" % (self.balance, amount))
        return "withdrawn", {"amount": amount}


def load(account_id):
    """Rebuild the account from its whole history, page by page."""
    acct = Account(account_id)
    path = "/events?" + urllib.parse.urlencode({"subject": acct.subject, "limit": 1000})
    while path:
        status, events, headers = http("GET", path)
        if status != 200:
            raise RuntimeError("GET %s: %s %s" % (path, status, events))
        for ev in events:
            acct.apply(ev)
        # A full page names the next one; the last page has no Redcar-Next.
        path = headers.get("Redcar-Next")
    return acct


def append(acct, command_id, kind, data):
    """Append the event only if the account is still at acct.version."""
    event = {"specversion": "1.0", "id": command_id, "source": SOURCE, "type": TYPE + kind,
             "subject": acct.subject, "datacontenttype": "application/json", "data": data}
    query = urllib.parse.urlencode({"expect_seq": acct.version, "expect_subject": acct.subject})
    status, answer, _ = http("POST", "/events?" + query, json.dumps(event).encode(),
                             {"Content-Type": "application/cloudevents+json"})
    if status == 409:
        raise Conflict(answer.get("detail"))
    if status not in (200, 201):
        raise RuntimeError("append: %s %s" % (status, answer))
    return answer["seq"], answer["duplicate"]


def execute(account_id, command, *args, command_id=None, who="", attempts=5, after_load=None):
    """Load, decide, append; on a conflict, reload and decide again.

    after_load is a hook for the race demo (it lets two writers load the same
    version before either appends); real code passes nothing.
    """
    command_id = command_id or "cmd-%s" % uuid.uuid4()
    what = " ".join([command] + [str(a) for a in args])
    for attempt in range(1, attempts + 1):
        acct = load(account_id)
        kind, data = getattr(acct, command)(*args)  # may raise Rejected
        if after_load and attempt == 1:
            after_load()
        try:
            seq, duplicate = append(acct, command_id, kind, data)
        except Conflict as e:
            print("%s%s: 409 conflict at version %d (%s); reloading"
                  % (who, what, acct.version, e), flush=True)
            continue
        print("%s%s: appended %s at seq %d%s"
              % (who, what, kind, seq, " (duplicate: already stored, nothing appended)" if duplicate else ""),
              flush=True)
        return seq
    raise RuntimeError("%s: gave up after %d conflicts" % (command, attempts))


def show(account_id):
    acct = load(account_id)
    print("account %s: owner=%s balance=%d version=%d"
          % (acct.id, acct.owner, acct.balance, acct.version), flush=True)
    return acct


def race(account_id):
    """Two tellers withdraw 70 from an account holding 100, at the same time.

    Both load version N with balance 100 and both decide "70 <= 100, fine".
    Only one append can win; the other gets 409, reloads (balance 30) and is
    now refused by the no-overdraft rule. Without expect_seq both would have
    been stored and the balance would be -40.
    """
    execute(account_id, "open", "race demo")
    execute(account_id, "deposit", 100)
    both_loaded = threading.Barrier(2, timeout=10)
    outcome = {}

    def teller(name):
        try:
            outcome[name] = execute(account_id, "withdraw", 70, who="[%s] " % name,
                                    after_load=both_loaded.wait)
        except Rejected as e:
            outcome[name] = "rejected"
            print("[%s] withdraw 70: rejected after reload: %s" % (name, e), flush=True)

    threads = [threading.Thread(target=teller, args=(n,)) for n in ("teller-1", "teller-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acct = show(account_id)
    print("outcome: %s" % json.dumps(outcome, sort_keys=True), flush=True)
    if acct.balance < 0:
        sys.exit("BUG: overdrawn")


def amount_arg(text):
    try:
        return int(text)
    except ValueError:
        raise Rejected("amount must be a whole number, not %r" % text)


def main(argv):
    commands = {
        "open": lambda a, owner="anonymous": execute(a, "open", owner),
        "deposit": lambda a, amount, cid=None: execute(a, "deposit", amount_arg(amount), command_id=cid),
        "withdraw": lambda a, amount, cid=None: execute(a, "withdraw", amount_arg(amount), command_id=cid),
        "show": show,
        "race": race,
    }
    if len(argv) < 3 or argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[argv[1]](*argv[2:])
    except Rejected as e:
        sys.exit("rejected: %s" % e)
    except TypeError:
        sys.exit(__doc__)  # wrong number of arguments for the command


if __name__ == "__main__":
    main(sys.argv)
