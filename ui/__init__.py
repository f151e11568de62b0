"""prefchat.ui."""
