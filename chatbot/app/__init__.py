"""The Streamlit app: thin pages over the public `chatbot` API (`Chatbot`), like the CLI.

`main.py` is the script Streamlit runs; the page modules only render and call the shared
`Chatbot`, and the pure helpers (`views`, `exporting`) hold everything worth unit-testing
without a browser.
"""
