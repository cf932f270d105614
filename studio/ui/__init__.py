"""Gradio tabs of the SR Studio app that live beside ``app.py``, one module per tab."""
