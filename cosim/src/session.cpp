#include "tkfac/cosim/session.hpp"
