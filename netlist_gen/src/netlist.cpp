#include "tkfac/netlist_gen/netlist.hpp"
