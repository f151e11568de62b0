"""prefchat.reward."""
