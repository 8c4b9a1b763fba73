/* being written */
#include "backend.h"
#include "../ctx.h"
