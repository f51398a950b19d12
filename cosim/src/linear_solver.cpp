namespace tkfac::cosim {}
