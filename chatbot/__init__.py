"""chatbot."""
