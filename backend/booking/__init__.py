"""The booking rules: holds, bookings, best-available and expiry. No HTTP here."""
