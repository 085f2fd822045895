"""Integrations of statehub with other frameworks (each behind its own extra).

- :mod:`statehub.integrations.langgraph`: a LangGraph checkpointer and store
  (``pip install 'statehub[langgraph]'``).
"""
