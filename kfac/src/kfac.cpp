// placeholder: the kfac library is filled by issue 4
