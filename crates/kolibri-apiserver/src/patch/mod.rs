//! JSON patch, merge patch and strategic merge patch (to be written).
