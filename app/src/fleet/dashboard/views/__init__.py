"""Page scripts run by ``st.navigation`` (not a ``pages/`` folder: that name means legacy mode)."""
