"""The pharmacist's screens: the queue, a dispense's label, the controlled drug register, the
order-check override report."""
