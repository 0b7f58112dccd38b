package org.springframework.security.authentication;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.userdetails.User;

/**
 * The field layout and serialVersionUID of Spring Security's class (copied from
 * test/formats/java-serialization.test.ts); getName() as the real one resolves it for a UserDetails
 * principal (what PrincipalNameIndexResolver's SpEL `authentication?.name` calls).
 */
public abstract class AbstractAuthenticationToken implements Authentication {
  private static final long serialVersionUID = -3194696462184782834L;
  private final Collection<GrantedAuthority> authorities;
  private Object details;
  private boolean authenticated = false;

  public AbstractAuthenticationToken(Collection<? extends GrantedAuthority> authorities) {
    this.authorities = Collections.unmodifiableList(new ArrayList<>(authorities));
  }

  public abstract Object getPrincipal();

  public String getName() {
    Object principal = getPrincipal();
    if (principal instanceof User) return ((User) principal).getUsername();
    return (principal == null) ? "" : principal.toString();
  }

  public void setAuthenticated(boolean authenticated) {
    this.authenticated = authenticated;
  }

  public void setDetails(Object details) {
    this.details = details;
  }
}
