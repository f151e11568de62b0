"""prefchat.elicitation."""
