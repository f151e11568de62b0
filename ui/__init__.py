"""prefchat.ui: the web side, built on :mod:`prefchat.assistant` (never the other way round).

- :mod:`~prefchat.ui.chat`: the onboarding chat (``gr.Blocks``) and :func:`~prefchat.ui.chat.mount_chat`
- :mod:`~prefchat.ui.rest`: the versioned REST API router, for hosts that draw their own UI
- :mod:`~prefchat.ui.analyst`: the analyst review of stored profiles
- :mod:`~prefchat.ui.app`: all of them in one FastAPI app (``prefchat serve``)
- :mod:`~prefchat.ui.embed`: mounting the chat in another app, the web component and iframe snippets
- :mod:`~prefchat.ui.commands`: ``prefchat serve`` and ``prefchat demo``

Nothing is imported here, so that ``import prefchat.ui.rest`` does not load Gradio.
"""
