"""prefchat.assistant: the assistant. No Gradio and no SQL here.

- :mod:`.session`: :class:`~.session.Conversation`, onboarding sessions (start, answer, undo,
  finish, resume), their state read back from storage (:mod:`.state`) and the turns they return
  (:mod:`.turns`);
- :mod:`.recommender`: :class:`~.recommender.Recommender`, the one path every top k comes from (its
  scores are :mod:`prefchat.reward.scoring`'s, on which a pack's summary weights are chosen);
- :mod:`.api`: :class:`~.api.Assistant`, sessions and the chat after them (say, recommend, rank,
  correct, export, forget), opened from a pack name and a database URL (public as
  :mod:`prefchat.api`); its replies (:mod:`.replies`) and what it keeps of a user (:mod:`.memory`);
- :mod:`.parsing`: free-text answers to "which do you prefer?";
- :mod:`.intents`: what a chat message after onboarding asks for;
- :mod:`.summary`, :mod:`.corrections`: the semantic summary in words (its numbers are
  :mod:`prefchat.reward.summary`'s), and corrections of it in words;
- :mod:`.settings`, :mod:`.packs`: the one settings object, and finding a pack by name or path;
- :mod:`.errors`: the assistant's domain exceptions.

Nothing is imported here, so importing one module (e.g. :mod:`.recommender`) stays light.
"""
