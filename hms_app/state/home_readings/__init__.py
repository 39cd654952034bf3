"""Home readings (telehealth): the portal's readings page and the staff board, one module each."""
