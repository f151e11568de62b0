"""prefchat.assistant."""
