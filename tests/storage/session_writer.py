"""Write a scripted onboarding session into a prefchat store, one committed answer at a time.

Run it as a separate process, so that a test can kill it mid-session::

    python session_writer.py URL N_ANSWERS

It prints ``session <id>``, then asks and answers N_ANSWERS pairwise questions, printing
``answered k`` after answer k is committed; then it asks question N_ANSWERS + 1 and waits
on stdin until it is killed. Question k (from 1) shows items ``item{2k-2}``, ``item{2k-1}``;
the choices cycle through a, b, tie, skip; answer k has latency ``1000 + k`` ms.
Tests of other layers can run it the same way (e.g. to check a posterior rebuilt from
the surviving answers).
"""

from __future__ import annotations

import sys

from prefchat.storage import PAIRWISE_CHOICES, open_store

USER_ID = "durability-user"
PACK = ("durability", "1")


def main(url: str, n_answers: int) -> None:
    store = open_store(url)
    session = store.start_session(store.create_user(USER_ID).id, *PACK, {"max_questions": n_answers + 4})
    print(f"session {session.id}", flush=True)
    for k in range(1, n_answers + 1):
        question = store.record_question(session.id, [f"item{2 * k - 2}", f"item{2 * k - 1}"])
        choice = PAIRWISE_CHOICES[(k - 1) % len(PAIRWISE_CHOICES)]
        store.record_answer(question.id, choice, raw_text=f"I pick {choice}", latency_ms=1000 + k)
        print(f"answered {k}", flush=True)
    store.record_question(session.id, [f"item{2 * n_answers}", f"item{2 * n_answers + 1}"])
    sys.stdin.read()  # hold the store open until killed


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
