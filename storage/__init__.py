"""prefchat.storage."""
