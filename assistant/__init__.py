"""prefchat.assistant: the conversation engine. No Gradio and no SQL here.

- :mod:`.session`: :class:`~.session.Conversation` (start, answer, undo, finish, resume, say,
  recommend, rank, correct, adopt, export, forget) and the turns it returns;
- :mod:`.parsing`: free-text answers to "which do you prefer?";
- :mod:`.intents`: what a chat message after onboarding asks for;
- :mod:`.summary`, :mod:`.ranking`: the semantic summary, ranking with reasons;
- :mod:`.api`: :class:`~.api.Assistant`, the engine opened from a pack name and a database URL
  (public as :mod:`prefchat.api`);
- :mod:`.settings`, :mod:`.packs`: the one settings object, and finding a pack by name or path;
- :mod:`.errors`: the engine's domain exceptions.

Nothing is imported here, so importing one module (e.g. :mod:`.ranking`) stays light.
"""
