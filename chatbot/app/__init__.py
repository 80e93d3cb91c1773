"""The Streamlit app: thin pages over the same pipeline functions the CLI calls.

`main.py` is the script Streamlit runs; the page modules only render and call
`chatbot.answer`, `chatbot.index` and friends, and the pure helpers (`views`, `exporting`,
`uploads`) hold everything worth unit-testing without a browser.
"""
