package org.springframework.security.core.context;

import org.springframework.security.core.Authentication;

public class SecurityContextImpl implements java.io.Serializable {
  private static final long serialVersionUID = 620L;
  private Authentication authentication;

  public SecurityContextImpl(Authentication authentication) {
    this.authentication = authentication;
  }

  public Authentication getAuthentication() {
    return this.authentication;
  }
}
