#include "tkfac/netlist_gen/encoding.hpp"
