"""HTTP routes mounted on the backend; each one calls services and checks the session."""
